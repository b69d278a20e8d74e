//! Talking to Microsoft: the identity platform (token endpoint) now, Graph
//! later. Errors keep everything Microsoft sends back (`error_codes`,
//! `trace_id`, `correlation_id`) so messages and logs can show it.

pub mod error;
pub mod graph;
pub mod identity;

pub use error::{CredentialProblem, MicrosoftError};
pub use graph::{GraphClient, GraphError};
pub use identity::{
    AppCredentials, Authority, AuthorizationRequest, IdentityClient, TokenProblem, TokenSet,
};
