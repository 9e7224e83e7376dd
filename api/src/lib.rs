//! Vitrine's API server: configuration, services, the GraphQL schema and the
//! HTTP routes, and the `vitrine` command line.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod error;
pub mod graphql;
pub mod http;
pub mod secret;
pub mod security;
pub mod services;
pub mod state;
pub mod telemetry;
pub mod throttle;
