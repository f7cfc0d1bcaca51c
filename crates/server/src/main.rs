//! The `tenantapi` binary: the command line serving the API generated from
//! `schema/project.toml`.

fn main() -> std::process::ExitCode {
    tenantapi_server::cli::run(&tenantapi_generated::API)
}
