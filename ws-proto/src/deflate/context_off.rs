//! Without the `deflate` feature: nothing is offered, so nothing is agreed,
//! and RSV1 stays a violation. The same hooks as `context.rs`, doing nothing.

use super::negotiate::Agreed;
use super::DeflateConfig;
use crate::error::ProtocolError;

/// No permessage-deflate state.
#[derive(Debug)]
pub(crate) struct Context;

impl Context {
    pub(crate) fn new(_offer: Option<DeflateConfig>) -> Self {
        Context
    }

    pub(crate) fn restart(&mut self, _offer: Option<DeflateConfig>) {}

    pub(crate) fn offer(&self) -> Option<DeflateConfig> {
        None
    }

    pub(crate) fn offer_line<'b>(&self, _buf: &'b mut [u8; 128]) -> Option<&'b [u8]> {
        None
    }

    pub(crate) fn agree(&mut self, _agreed: Option<Agreed>) {}

    pub(crate) fn agreed(&self) -> Option<Agreed> {
        None
    }

    pub(crate) fn rsv1_allowed(&self) -> bool {
        false
    }

    pub(crate) fn start_message(&mut self, _compressed: bool) {}

    pub(crate) fn rx_compressed(&self) -> bool {
        false
    }

    pub(crate) fn inflate(
        &mut self,
        _input: &[u8],
        _last: bool,
        _limit: u64,
    ) -> Result<(usize, bool), ProtocolError> {
        Err(ProtocolError::ReservedBits)
    }

    pub(crate) fn inflated(&self) -> &[u8] {
        &[]
    }

    pub(crate) fn end_message(&mut self, _completed: bool) {}
}
