//! # clerk-tower
//!
//! A client for [Clerk](https://clerk.com)'s Backend API built as a
//! [tower](https://docs.rs/tower) middleware stack.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod error;
pub mod http;
pub mod models;

#[cfg(feature = "mock")]
pub mod mock;

pub use crate::error::{BoxError, Error};
pub use crate::http::{Deadline, HttpRequest, HttpResponse, HttpService, Operation, RequestOptions};
