//! `docs/ws-module.md` matches the code: every function of its table exists
//! in `WsModule` (snake case) and its C functions in `include/ws_module.h`;
//! every function the header declares is documented; every layout's hash in
//! the events table is the FNV-1a of its text and equals the header's
//! `#define`.

use std::path::Path;

use ws_vm_binding::fnv1a32;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows (cells, trimmed) of the first table under `## {section}`.
fn table(doc: &str, section: &str) -> Vec<Vec<String>> {
    let start = doc
        .find(&format!("\n## {section}\n"))
        .unwrap_or_else(|| panic!("no section {section}"));
    let body = &doc[start + 1..];
    let body = &body[..body[3..].find("\n## ").map_or(body.len(), |i| i + 3)];
    body.lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The names in backticks of a cell.
fn ticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The functions `include/ws_module.h` declares.
fn header_functions(header: &str) -> Vec<String> {
    header
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with('/'))
        .filter_map(|l| {
            // The identifier just before the first '(' of a declaration.
            let before = &l[..l.find('(')?];
            let start = before
                .rfind(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .map_or(0, |i| i + 1);
            let name = &before[start..];
            name.starts_with("ws_").then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_documented_function_exists_in_the_module_and_the_header() {
    let doc = read("../docs/ws-module.md");
    let header = read("include/ws_module.h");
    let module = read("src/module.rs");
    let rows = table(&doc, "Functions");
    assert!(rows.len() >= 14, "{rows:?}");
    let mut documented_c = Vec::new();
    for row in &rows {
        let script = ticked(&row[0])[0];
        let name = script
            .strip_prefix("ws.")
            .and_then(|s| s.split('(').next())
            .unwrap_or_else(|| panic!("bad function cell {script}"));
        let method = format!("pub fn {}(", snake(name));
        assert!(module.contains(&method), "WsModule has no {method}");
        let c_names = ticked(&row[3]);
        assert!(!c_names.is_empty(), "no C function for {name}");
        for c in c_names {
            assert!(
                header_functions(&header).iter().any(|f| f == c),
                "header lacks {c}"
            );
            documented_c.push(c.to_string());
        }
        assert!(
            ["v0.1", "extension"].contains(&row[4].as_str()),
            "{name}: {}",
            row[4]
        );
    }
    for row in table(&doc, "C ABI") {
        documented_c.push(ticked(&row[0])[0].to_string());
    }
    let declared = header_functions(&header);
    assert!(declared.len() >= 21, "{declared:?}");
    for f in declared {
        assert!(documented_c.contains(&f), "{f} is not in docs/ws-module.md");
    }
}

#[test]
fn documented_layout_hashes_match_the_text_and_the_header() {
    let doc = read("../docs/ws-module.md");
    let header = read("include/ws_module.h");
    let rows = table(&doc, "Events");
    assert_eq!(rows.len(), 8);
    for row in rows {
        let layout = ticked(&row[1])[0];
        let hash = ticked(&row[2])[0];
        let define = ticked(&row[3])[0];
        let expected = format!("{:#010x}", fnv1a32(layout.as_bytes()));
        assert_eq!(hash, expected, "{layout}");
        let line = header
            .lines()
            .find(|l| l.starts_with(&format!("#define {define} ")))
            .unwrap_or_else(|| panic!("header lacks {define}"));
        assert!(
            line.contains(&format!("{}u", &expected)),
            "{define}: {line} vs {expected}"
        );
    }
}

#[test]
fn documented_error_codes_match_the_enum() {
    let doc = read("../docs/ws-module.md");
    let header = read("include/ws_module.h");
    for row in table(&doc, "Errors") {
        let code: i32 = row[0].parse().unwrap();
        let name = ticked(&row[1])[0];
        assert!(
            header.contains(&format!("{name} = {code}")),
            "header: {name} = {code}"
        );
    }
}
