//! The ways operators install pgAnalytics, tried for real in Docker (issue 16):
//! - `packages`: the Debian packages installed into a Debian container booted with systemd,
//!   both units started, the agent registered, its data read through the API, restarts
//!   with nothing lost, purge and reinstall keeping the data;
//! - `compose`: the images built, the compose stack (PostgreSQL, server, agent) started, the
//!   agent's data read through the API, the server's container restarted with nothing lost.
//!
//! They need a Docker engine (root) and debootstrap, and run when
//! `PGANALYTICS_CONTAINER_TESTS=1`, which `.ci/run` sets once it has started the engine;
//! otherwise each says that it did not run. No image registry is needed: the base image is
//! made with `debootstrap --variant=minbase bookworm` and `docker import`.

mod compose;
mod docker;
mod packages;
