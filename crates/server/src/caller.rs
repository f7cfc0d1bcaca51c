//! Who is calling, and what they may do: the one door every route asks. Credentials are read
//! and verified here only (`Caller::of`); the project routes ask through the registry
//! (`Registry::resolve`, which adds the project's grant), the documentation, `/metrics` and
//! `/readyz` ask directly. Invalid credentials are 401 wherever they are sent.

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use tenantapi_runtime::http::error::ApiError;

use crate::accounts::{Principal, Role};
use crate::auth::{Authenticator, NOT_PROVIDED, parse_authorization};
use crate::registry::Registry;

/// The caller of one request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Authentication is off: every caller may do everything.
    Anyone,
    /// No credentials were sent.
    Anonymous,
    /// Valid credentials of this user.
    User(Arc<Principal>),
}

impl Caller {
    /// The caller `request` names, or the 401 its invalid or malformed credentials get.
    pub async fn of(
        request: &HttpRequest,
        authenticator: Option<&Authenticator>,
    ) -> Result<Caller, ApiError> {
        let Some(authenticator) = authenticator else {
            return Ok(Caller::Anyone);
        };
        match parse_authorization(request)? {
            None => Ok(Caller::Anonymous),
            Some(credentials) => Ok(Caller::User(authenticator.verify(credentials).await?)),
        }
    }

    /// Any valid credentials (or authentication off): the user, if there is one; 401 for an
    /// anonymous caller.
    pub fn require_authenticated(&self) -> Result<Option<&Arc<Principal>>, ApiError> {
        match self {
            Caller::Anyone => Ok(None),
            Caller::Anonymous => Err(ApiError::NotAuthenticated(NOT_PROVIDED.to_string())),
            Caller::User(principal) => Ok(Some(principal)),
        }
    }

    /// A superuser (or authentication off): 401 for an anonymous caller, 403 for another user.
    pub fn require_superuser(&self) -> Result<(), ApiError> {
        match self.require_authenticated()? {
            Some(principal) if !principal.is_superuser => Err(ApiError::PermissionDenied),
            _ => Ok(()),
        }
    }

    /// Whether the caller sees what only superusers see, without asking for credentials.
    pub fn is_superuser(&self) -> bool {
        match self {
            Caller::Anyone => true,
            Caller::Anonymous => false,
            Caller::User(principal) => principal.is_superuser,
        }
    }
}

/// A user's role on a project (by its platform id), if any; superusers have every project.
pub fn role_on(principal: &Principal, project_id: i32) -> Option<Role> {
    if principal.is_superuser {
        Some(Role::Write)
    } else {
        principal.grants.get(&project_id).copied()
    }
}

impl actix_web::FromRequest for Caller {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let registry = request
                .app_data::<web::Data<Registry>>()
                .ok_or_else(|| ApiError::internal("caller", "the registry is not app data"))?
                .clone();
            Caller::of(&request, registry.authenticator()).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn sources(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                sources(&path, files);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }

    #[test]
    fn only_the_caller_reads_credentials() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut found = Vec::new();
        for file in &files {
            let name = file
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy();
            // The authenticator defines what the caller uses; the caller is the door.
            if name == "auth.rs" || name == "caller.rs" {
                continue;
            }
            let text = std::fs::read_to_string(file).expect("source file");
            for (number, line) in text.lines().enumerate() {
                if line.contains("parse_authorization(") || line.contains(".verify(credentials") {
                    found.push(format!("{name}:{}: {}", number + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "credentials read outside caller.rs:\n{}",
            found.join("\n")
        );
        let caller = std::fs::read_to_string(src.join("caller.rs")).expect("caller.rs");
        assert!(
            caller.contains(&["parse_authorization", "("].concat()),
            "the scan looks for what the caller calls"
        );
    }
}
