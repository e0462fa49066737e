//! Integration tests for dxsim: one binary, a module per area.

mod bias;
mod cli;
mod discrete;
mod episode;
mod eval;
mod eval_llm;
mod fake_openai;
mod gatekeeper;
mod import;
mod judge;
mod libraries;
mod library;
mod lint;
mod llm;
mod model_backed;
mod patient;
mod play;
mod report;
mod server;
mod surface;
mod validator;

/// The valid case fixture written for these tests.
pub(crate) const VALID_CASE: &str = include_str!("fixtures/fixture-valid.toml");

/// Serves `app` on a free loopback port in the background (a stand-in agent); returns its address.
pub(crate) async fn serve_on_loopback(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}
