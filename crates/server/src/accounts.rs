//! Users, per-project grants and API tokens in the platform database, and the administration
//! commands over them. Tokens are stored as SHA-256 hashes; passwords as argon2id hashes.

use diesel::prelude::*;
use tenantapi_runtime::connections::db::DbConnection;

use crate::platform::{PlatformError, projects};
use crate::secrets;

diesel::table! {
    users (id) {
        id -> Int4,
        username -> Text,
        password_hash -> Nullable<Text>,
        is_active -> Bool,
        is_superuser -> Bool,
        created_at -> Int8,
        rate_per_second -> Nullable<Double>,
        rate_burst -> Nullable<Int4>,
    }
}

diesel::table! {
    grants (user_id, project_id) {
        user_id -> Int4,
        project_id -> Int4,
        role -> Text,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Int4,
        user_id -> Int4,
        name -> Text,
        prefix -> Text,
        token_hash -> Text,
        created_at -> Int8,
        last_used_at -> Nullable<Int8>,
        expires_at -> Nullable<Int8>,
        revoked -> Bool,
    }
}

diesel::joinable!(grants -> users (user_id));
diesel::joinable!(grants -> projects (project_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, grants, projects, api_tokens);

/// What a grant allows on one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Role {
    /// GET, HEAD, OPTIONS.
    Read,
    /// Also POST, PUT, PATCH, DELETE.
    Write,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "read" => Some(Role::Read),
            "write" => Some(Role::Write),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("invalid username {name:?}: use 1 to 150 letters, digits or @.+-_")]
    InvalidUsername { name: String },
    #[error("no user named {name}")]
    UnknownUser { name: String },
    #[error("no project named {name}")]
    UnknownProject { name: String },
    #[error("no token with prefix {prefix}")]
    UnknownToken { prefix: String },
    #[error("the password must not be empty")]
    EmptyPassword,
    #[error("--expires-in must be at least 1 day")]
    InvalidExpiry,
}

impl From<diesel::result::Error> for AccountError {
    fn from(error: diesel::result::Error) -> Self {
        AccountError::Platform(PlatformError::Database(error))
    }
}

pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

fn check_username(name: &str) -> Result<(), AccountError> {
    let valid = (1..=150).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'));
    if valid {
        Ok(())
    } else {
        Err(AccountError::InvalidUsername {
            name: name.to_string(),
        })
    }
}

fn user_id(connection: &mut DbConnection, name: &str) -> Result<i32, AccountError> {
    users::table
        .filter(users::username.eq(name))
        .select(users::id)
        .first(connection)
        .optional()?
        .ok_or_else(|| AccountError::UnknownUser {
            name: name.to_string(),
        })
}

fn project_id(connection: &mut DbConnection, name: &str) -> Result<i32, AccountError> {
    projects::table
        .filter(projects::name.eq(name))
        .select(projects::id)
        .first(connection)
        .optional()?
        .ok_or_else(|| AccountError::UnknownProject {
            name: name.to_string(),
        })
}

/// What an idempotent command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Made,
    AlreadySo,
}

/// Creates a user, or updates the superuser flag and (when given) the password of an existing one.
pub fn add_user(
    connection: &mut DbConnection,
    name: &str,
    superuser: bool,
    password: Option<&str>,
) -> Result<Change, AccountError> {
    check_username(name)?;
    let password_hash = match password {
        Some("") => return Err(AccountError::EmptyPassword),
        Some(password) => Some(secrets::hash_password(password)),
        None => None,
    };
    crate::platform::write_transaction(connection, |connection| {
        let existing: Option<(i32, bool)> = users::table
            .filter(users::username.eq(name))
            .select((users::id, users::is_superuser))
            .first(connection)
            .optional()?;
        match existing {
            Some((id, was_superuser)) => {
                if was_superuser != superuser {
                    diesel::update(users::table.find(id))
                        .set(users::is_superuser.eq(superuser))
                        .execute(connection)?;
                }
                if let Some(hash) = &password_hash {
                    diesel::update(users::table.find(id))
                        .set(users::password_hash.eq(hash))
                        .execute(connection)?;
                }
                Ok(if was_superuser == superuser && password_hash.is_none() {
                    Change::AlreadySo
                } else {
                    Change::Made
                })
            }
            None => {
                diesel::insert_into(users::table)
                    .values((
                        users::username.eq(name),
                        users::password_hash.eq(password_hash.as_deref()),
                        users::is_active.eq(true),
                        users::is_superuser.eq(superuser),
                        users::created_at.eq(now_seconds()),
                    ))
                    .execute(connection)?;
                Ok(Change::Made)
            }
        }
    })
}

pub fn set_user_active(
    connection: &mut DbConnection,
    name: &str,
    active: bool,
) -> Result<Change, AccountError> {
    let id = user_id(connection, name)?;
    let changed = diesel::update(users::table.find(id).filter(users::is_active.ne(active)))
        .set(users::is_active.eq(active))
        .execute(connection)?;
    Ok(if changed == 0 {
        Change::AlreadySo
    } else {
        Change::Made
    })
}

pub fn grant(
    connection: &mut DbConnection,
    user: &str,
    project: &str,
    role: Role,
) -> Result<Change, AccountError> {
    crate::platform::write_transaction(connection, |connection| {
        let user_id = user_id(connection, user)?;
        let project_id = project_id(connection, project)?;
        let existing: Option<String> = grants::table
            .find((user_id, project_id))
            .select(grants::role)
            .first(connection)
            .optional()?;
        match existing {
            Some(current) if current == role.as_str() => Ok(Change::AlreadySo),
            Some(_) => {
                diesel::update(grants::table.find((user_id, project_id)))
                    .set(grants::role.eq(role.as_str()))
                    .execute(connection)?;
                Ok(Change::Made)
            }
            None => {
                diesel::insert_into(grants::table)
                    .values((
                        grants::user_id.eq(user_id),
                        grants::project_id.eq(project_id),
                        grants::role.eq(role.as_str()),
                    ))
                    .execute(connection)?;
                Ok(Change::Made)
            }
        }
    })
}

pub fn revoke(
    connection: &mut DbConnection,
    user: &str,
    project: &str,
) -> Result<Change, AccountError> {
    let user_id = user_id(connection, user)?;
    let project_id = project_id(connection, project)?;
    let deleted = diesel::delete(grants::table.find((user_id, project_id))).execute(connection)?;
    Ok(if deleted == 0 {
        Change::AlreadySo
    } else {
        Change::Made
    })
}

/// A token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct TokenInfo {
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

/// Creates a token and returns it: the only time it is ever visible.
pub fn create_token(
    connection: &mut DbConnection,
    user: &str,
    name: &str,
    expires_in_days: Option<u32>,
) -> Result<String, AccountError> {
    if expires_in_days == Some(0) {
        return Err(AccountError::InvalidExpiry);
    }
    let user_id = user_id(connection, user)?;
    let now = now_seconds();
    let expires_at = expires_in_days.map(|days| now + i64::from(days) * 86_400);
    // A prefix collision (one in 2^32 per pair) is retried with a new token.
    for _ in 0..5 {
        let token = secrets::new_token();
        let inserted = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user_id),
                api_tokens::name.eq(name),
                api_tokens::prefix.eq(secrets::token_prefix(&token)),
                api_tokens::token_hash.eq(secrets::token_hash(&token)),
                api_tokens::created_at.eq(now),
                api_tokens::expires_at.eq(expires_at),
                api_tokens::revoked.eq(false),
            ))
            .execute(connection);
        match inserted {
            Ok(_) => return Ok(token),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(AccountError::Platform(PlatformError::Database(
        diesel::result::Error::RollbackTransaction,
    )))
}

pub fn list_tokens(
    connection: &mut DbConnection,
    user: &str,
) -> Result<Vec<TokenInfo>, AccountError> {
    let user_id = user_id(connection, user)?;
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order(api_tokens::id.asc())
        .select((
            api_tokens::name,
            api_tokens::prefix,
            api_tokens::created_at,
            api_tokens::last_used_at,
            api_tokens::expires_at,
            api_tokens::revoked,
        ))
        .load(connection)?)
}

pub fn revoke_token(connection: &mut DbConnection, prefix: &str) -> Result<Change, AccountError> {
    let revoked: Option<bool> = api_tokens::table
        .filter(api_tokens::prefix.eq(prefix))
        .select(api_tokens::revoked)
        .first(connection)
        .optional()?;
    match revoked {
        None => Err(AccountError::UnknownToken {
            prefix: prefix.to_string(),
        }),
        Some(true) => Ok(Change::AlreadySo),
        Some(false) => {
            diesel::update(api_tokens::table.filter(api_tokens::prefix.eq(prefix)))
                .set(api_tokens::revoked.eq(true))
                .execute(connection)?;
            Ok(Change::Made)
        }
    }
}

/// A user's own rate limit; `None`: the configuration's default. A rate of 0 is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(tenantapi_runtime::connections::db::MultiBackend))]
pub struct UserLimits {
    pub rate_per_second: Option<f64>,
    pub rate_burst: Option<i32>,
}

fn load_user_limits(
    connection: &mut DbConnection,
    user_id: i32,
) -> Result<UserLimits, AccountError> {
    Ok(users::table
        .find(user_id)
        .select(UserLimits::as_select())
        .first(connection)?)
}

/// Applies a change of rate and burst to user `name`'s limits; the limits after.
pub fn set_user_limits(
    connection: &mut DbConnection,
    name: &str,
    rate_per_second: crate::platform::LimitChange<f64>,
    rate_burst: crate::platform::LimitChange<i32>,
) -> Result<UserLimits, AccountError> {
    crate::platform::write_transaction(connection, |connection| {
        let id = user_id(connection, name)?;
        let current = load_user_limits(connection, id)?;
        let next = UserLimits {
            rate_per_second: rate_per_second.apply(current.rate_per_second),
            rate_burst: rate_burst.apply(current.rate_burst),
        };
        diesel::update(users::table.find(id))
            .set((
                users::rate_per_second.eq(next.rate_per_second),
                users::rate_burst.eq(next.rate_burst),
            ))
            .execute(connection)?;
        Ok(next)
    })
}

/// Everything the guard needs to know about an authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: i32,
    pub username: String,
    pub is_superuser: bool,
    /// Granted projects by their id in the platform database (superusers need none): not by
    /// name, since a project removed and added again under its name is another project (a new
    /// id), which grants cached for the old one must not reach.
    pub grants: std::collections::HashMap<i32, Role>,
    /// When the credential stops being valid (token expiry), Unix seconds.
    pub expires_at: Option<i64>,
    /// The user's own rate limit, if set.
    pub limits: UserLimits,
}

/// Why credentials were refused; the messages are DRF's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    InvalidToken,
    InvalidPassword,
    Inactive,
}

fn load_grants(
    connection: &mut DbConnection,
    user_id: i32,
) -> Result<std::collections::HashMap<i32, Role>, AccountError> {
    let rows: Vec<(i32, String)> = grants::table
        .filter(grants::user_id.eq(user_id))
        .select((grants::project_id, grants::role))
        .load(connection)?;
    Ok(rows
        .into_iter()
        .filter_map(|(project, role)| Some((project, Role::parse(&role)?)))
        .collect())
}

/// A token's row joined with its user's.
#[derive(Queryable)]
struct TokenOwner {
    token_id: i32,
    user_id: i32,
    expires_at: Option<i64>,
    revoked: bool,
    username: String,
    is_active: bool,
    is_superuser: bool,
}

/// Looks a token up by its hash; records its use.
pub fn authenticate_token(
    connection: &mut DbConnection,
    token: &str,
) -> Result<Result<Principal, Refusal>, AccountError> {
    let hash = secrets::token_hash(token);
    let found: Option<TokenOwner> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(&hash))
        .select((
            api_tokens::id,
            users::id,
            api_tokens::expires_at,
            api_tokens::revoked,
            users::username,
            users::is_active,
            users::is_superuser,
        ))
        .first(connection)
        .optional()?;
    let Some(TokenOwner {
        token_id,
        user_id,
        expires_at,
        revoked,
        username,
        is_active,
        is_superuser,
    }) = found
    else {
        return Ok(Err(Refusal::InvalidToken));
    };
    // The stored hash equals the hash of what was sent (the database compared them); an
    // expired or revoked token is refused exactly like an unknown one.
    if revoked || expires_at.is_some_and(|expiry| expiry <= now_seconds()) {
        return Ok(Err(Refusal::InvalidToken));
    }
    if !is_active {
        return Ok(Err(Refusal::Inactive));
    }
    diesel::update(api_tokens::table.find(token_id))
        .set(api_tokens::last_used_at.eq(now_seconds()))
        .execute(connection)?;
    let grants = load_grants(connection, user_id)?;
    let limits = load_user_limits(connection, user_id)?;
    Ok(Ok(Principal {
        user_id,
        username,
        is_superuser,
        grants,
        expires_at,
        limits,
    }))
}

/// What HTTP Basic needs to know about a user, read in one go so that the argon2 check (tens
/// of milliseconds) runs after the platform connection is back in its pool.
#[derive(Debug, Clone)]
pub struct PasswordAccount {
    /// The stored argon2id hash; `None`: the user has no password.
    pub password_hash: Option<String>,
    /// The verdict if the password matches the hash.
    pub if_password_matches: Result<Principal, Refusal>,
}

/// Looks up the account HTTP Basic names; `None` if there is no such user.
pub fn password_account(
    connection: &mut DbConnection,
    username: &str,
) -> Result<Option<PasswordAccount>, AccountError> {
    let found: Option<(i32, Option<String>, bool, bool)> = users::table
        .filter(users::username.eq(username))
        .select((
            users::id,
            users::password_hash,
            users::is_active,
            users::is_superuser,
        ))
        .first(connection)
        .optional()?;
    let Some((user_id, password_hash, is_active, is_superuser)) = found else {
        return Ok(None);
    };
    let if_password_matches = if is_active {
        Ok(Principal {
            user_id,
            username: username.to_string(),
            is_superuser,
            grants: load_grants(connection, user_id)?,
            expires_at: None,
            limits: load_user_limits(connection, user_id)?,
        })
    } else {
        Err(Refusal::Inactive)
    };
    Ok(Some(PasswordAccount {
        password_hash,
        if_password_matches,
    }))
}

/// The verdict on `password` for a looked-up account, with one argon2 verification whether or
/// not the user exists, so that response times do not reveal which users exist.
pub fn verify_account_password(
    account: Option<&PasswordAccount>,
    password: &str,
) -> Result<Principal, Refusal> {
    match account {
        Some(PasswordAccount {
            password_hash: Some(password_hash),
            if_password_matches,
        }) => {
            if secrets::verify_password(password, password_hash) {
                if_password_matches.clone()
            } else {
                Err(Refusal::InvalidPassword)
            }
        }
        _ => {
            secrets::verify_password(password, secrets::DUMMY_PASSWORD_HASH);
            Err(Refusal::InvalidPassword)
        }
    }
}
