//! Before a service starts: one-shot steps in the service's image, and the kubo repo through the image's own
//! entrypoint.

pub(crate) mod kubo;
pub(crate) mod oneshot;
