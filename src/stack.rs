//! The concrete type of the client's stack.
//!
//! The stack is kept as a concrete, unboxed type so that a call clones no box and allocates no
//! future per layer: cloning it (once per call) only bumps reference counts. User layers are
//! the one place where types are erased: with any attempt layer, the part of the stack below
//! them is boxed once into an [`HttpService`]; with any call layer, the whole stack is.

use tower::util::Either;

use crate::layer::call::Call;
use crate::layer::{Auth, BaseUrl, DecodeErrors, DefaultHeaders};
use crate::transport::Transport;
use crate::HttpService;

/// What every attempt goes through below the user's attempt layers.
pub(crate) type Core = BaseUrl<DefaultHeaders<Auth<DecodeErrors<Transport>>>>;

/// One attempt: the core directly, or the user's attempt layers over the (boxed) core.
pub(crate) type Attempt = Either<Core, HttpService>;

/// The whole stack of a client: the call service (total deadline, retries, attempt deadline)
/// over one attempt, or the user's call layers over all of that (boxed).
pub(crate) type Stack = Either<Call<Attempt>, HttpService>;
