//! Errors shared by the ports.

/// A boxed cause, for errors from adapters the core knows nothing about.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store operation can fail with. Adapters translate driver errors into these:
/// unique violations become `Conflict`, connection and pool failures `Unavailable`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} already exists")]
    Conflict { entity: &'static str },
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// The request cannot be carried out as given (an SQL rule's query fails, for one); the
    /// message says why and is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The store cannot be reached right now; the same call may succeed later.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected store error")]
    Unknown(#[source] BoxError),
}

impl StoreError {
    pub fn unknown(e: impl Into<BoxError>) -> Self {
        Self::Unknown(e.into())
    }
    pub fn unavailable(e: impl Into<BoxError>) -> Self {
        Self::Unavailable(e.into())
    }

    /// The same error once more, for another caller that shares its cause (the batches of
    /// a group that failed together); a boxed cause is kept as its message chain.
    #[must_use]
    pub fn share(&self) -> Self {
        fn chain(e: &BoxError) -> BoxError {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text.into()
        }
        match self {
            Self::Conflict { entity } => Self::Conflict { entity },
            Self::NotFound { entity } => Self::NotFound { entity },
            Self::Invalid(m) => Self::Invalid(m.clone()),
            Self::Unavailable(e) => Self::Unavailable(chain(e)),
            Self::Unknown(e) => Self::Unknown(chain(e)),
        }
    }
}
