//! The application on a real loopback port, for tests that need a socket (other processes,
//! HTTP clients, load generators).

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer};
use tenantapi_server::config::AppSettings;
use tenantapi_server::registry::Registry;

/// A server on 127.0.0.1 and an ephemeral port; stopped when dropped.
pub struct RunningServer {
    pub address: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }
}

pub(crate) fn start(registry: Arc<Registry>, settings: AppSettings) -> RunningServer {
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new().configure(|config| {
                    tenantapi_server::app::configure(config, registry.clone(), settings.clone())
                })
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("bind a loopback port");
            let address = server.addrs()[0];
            let server = server.run();
            sender
                .send((address, server.handle()))
                .expect("the test waits for the address");
            let _ = server.await;
        });
    });
    let (address, handle) = receiver.recv().expect("the test server started");
    RunningServer {
        address,
        handle,
        thread: Some(thread),
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        actix_web::rt::System::new().block_on(stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
