//! What the module needs from the VM: event types, event delivery, diagnostics.

/// A VM event type, as the script passes it to `ws.on(conn, name, EventType)`
/// (the document types it `i32`).
pub type EventType = i32;

/// One field of an emitted event, in the event type's declared order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// An `i32` field (`conn`).
    I32(i32),
    /// A `string` field (`message`); borrowed for the duration of
    /// [`Host::emit`], so copy it if the event is queued.
    Str(&'a str),
    /// A `bytes` field (`message` bound as `message:bytes`, an extension of
    /// v0.1): a binary message, or a text message as its UTF-8 bytes;
    /// borrowed for the duration of [`Host::emit`].
    Bytes(&'a [u8]),
}

/// The VM side of the module.
///
/// [`crate::WsModule`] calls it from [`crate::WsModule::tick`] (events) and
/// from any module function (diagnostics). A VM normally queues the event and
/// runs the script's `on EventType fn(e)` handler on a later turn of its event
/// loop; handlers may then call the module again.
pub trait Host {
    /// The signature hash of `event_type` (see [`crate::signature_hash`]), or
    /// `None` when the VM declares no such event type.
    fn signature_hash(&self, event_type: EventType) -> Option<u32>;

    /// Delivers an event of a bound type with its fields, in declared order.
    fn emit(&mut self, event_type: EventType, fields: &[Value<'_>]);

    /// A human-readable note for the script's developer: why a call returned
    /// -1, why a connection ended, a dropped binary message, ...
    fn diagnostic(&mut self, message: &str);
}
