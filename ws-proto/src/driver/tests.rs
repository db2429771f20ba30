//! The driver on a virtual clock with scripted socket observations: no
//! sockets, no sleeps.

use super::*;

#[test]
fn every_table_row_names_distinct_phases() {
    for &(from, _, to) in TRANSITIONS {
        assert_ne!(from, to, "a row must change the phase");
        assert!(table::is_transition(from, to));
    }
}
