//! Plumbing of the embedded run: the reference server started once per profile on loopback,
//! the conformance runner pointed at each, the results collected in profile order. It lives
//! here because `imds_conformance` talks HTTP only and must not link the server.
//! Failures come back as values: nothing here prints or exits.

use std::sync::Arc;

use imds_conformance::Catalogue;
use imds_conformance::report::RunResult;
use imds_conformance::runner::{self, RunConfig, RunError, TargetOptions};
use imds_model::MetadataOptions;
use imds_server::ImdsServer;

/// Why an (embedded or single) run gave no results.
#[derive(Debug)]
pub enum EmbeddedError {
    /// The runner could not run against one target.
    Run {
        /// `profile NAME: ` for an embedded profile, empty for `--endpoint`.
        profile: String,
        /// The runner's error.
        error: RunError,
    },
    /// The reference server of a profile did not start.
    Start {
        /// The profile.
        profile: String,
        /// The server's error.
        error: imds_server::ServerError,
    },
    /// A profile's run panicked.
    Panicked(String),
}

impl std::fmt::Display for EmbeddedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmbeddedError::Run { profile, error } => write!(f, "{profile}{error}"),
            EmbeddedError::Start { profile, error } => write!(
                f,
                "cannot start the embedded reference server ({profile}): {error}"
            ),
            EmbeddedError::Panicked(e) => write!(f, "a profile run panicked: {e}"),
        }
    }
}

impl std::error::Error for EmbeddedError {}

impl From<RunError> for EmbeddedError {
    fn from(error: RunError) -> Self {
        EmbeddedError::Run {
            profile: String::new(),
            error,
        }
    }
}

/// Starts the reference server once per profile (on 127.0.0.1, a free port) and runs the
/// suite against each, all at once; each run declares its profile's observable options.
pub async fn run_profiles(
    catalogue: &Arc<Catalogue>,
    base: &RunConfig,
    profiles: Vec<(String, MetadataOptions)>,
) -> Result<Vec<RunResult>, EmbeddedError> {
    let mut servers = Vec::new();
    for (name, options) in &profiles {
        let server = ImdsServer::builder()
            .options(*options)
            .start()
            .await
            .map_err(|error| EmbeddedError::Start {
                profile: name.clone(),
                error,
            })?;
        servers.push(server);
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, ((name, options), server)) in profiles.iter().zip(&servers).enumerate() {
        let mut config = base.clone();
        config.name = name.clone();
        config.endpoint = server.url();
        config.declared = TargetOptions::observable(options);
        config.description = Some(format!(
            "embedded reference server (imds-server), profile {name}"
        ));
        let catalogue = catalogue.clone();
        set.spawn(async move { (i, runner::run(catalogue, config).await) });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, Ok(r))) => results.push((i, r)),
            Ok((i, Err(error))) => {
                return Err(EmbeddedError::Run {
                    profile: format!("profile {}: ", profiles[i].0),
                    error,
                });
            }
            Err(e) => return Err(EmbeddedError::Panicked(e.to_string())),
        }
    }
    drop(servers);
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two profiles on loopback, one case each: results come back in profile order, each
    /// declaring its profile.
    #[tokio::test]
    async fn profiles_run_in_order_and_declare_their_options() {
        let catalogue = Arc::new(crate::run::embedded_catalogue().unwrap());
        let mut base = RunConfig::new("x", "");
        base.include = vec![glob::Pattern::new("endpoint.*").unwrap()];
        let required = MetadataOptions {
            http_tokens: imds_model::HttpTokens::Required,
            ..MetadataOptions::default()
        };
        let runs = run_profiles(
            &catalogue,
            &base,
            vec![
                ("optional".into(), MetadataOptions::default()),
                ("required".into(), required),
            ],
        )
        .await
        .unwrap();
        let names: Vec<_> = runs.iter().map(|r| r.target.name.as_str()).collect();
        assert_eq!(names, ["optional", "required"]);
        assert_eq!(
            runs[1].target.declared.http_tokens,
            Some(imds_model::HttpTokens::Required)
        );
        assert!(runs.iter().all(|r| !r.cases.is_empty()));
    }

    #[test]
    fn errors_name_the_profile() {
        let e = EmbeddedError::Run {
            profile: "profile required: ".into(),
            error: RunError::BadEndpoint(imds_conformance::client::ClientError::BadUrl("x".into())),
        };
        assert!(e.to_string().starts_with("profile required: "), "{e}");
    }
}
