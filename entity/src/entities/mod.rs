//! sea-orm entities: one module per table. These are storage rows, never API
//! types: the GraphQL layer defines its own output types.

pub mod audit_chain_head;
pub mod audit_event;
pub mod partner_org;
pub mod session;
pub mod user;
