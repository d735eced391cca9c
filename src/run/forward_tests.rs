//! The forwarder on real loopback sockets: a swap moves new connections and datagrams, and leaves the
//! connections made before where they were.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::{Forwarder, Route, accept_loop, udp_loop};
use crate::engine::{Container, Engine, PublishedPort, State};

/// A TCP backend that answers every line with its name and the line.
async fn tcp_backend(name: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    let reply = format!("{name}:{}", String::from_utf8_lossy(&buf[..n]));
                    if s.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn udp_backend(name: &'static str) -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 64];
        loop {
            let (n, from) = s.recv_from(&mut buf).await.unwrap();
            let reply = format!("{name}:{}", String::from_utf8_lossy(&buf[..n]));
            s.send_to(reply.as_bytes(), from).await.unwrap();
        }
    });
    addr
}

fn serving(port: u16, udp: bool) -> Container {
    Container {
        id: "c1".into(),
        name: "p-app".into(),
        image: "sha256:1".into(),
        labels: HashMap::new(),
        state: State::Running,
        started_at: None,
        finished_at: None,
        restart_count: 0,
        networks: HashMap::new(),
        ports: vec![(
            80,
            PublishedPort {
                ip: Some("127.0.0.1".into()),
                port,
                udp,
            },
        )],
    }
}

fn route(udp: bool) -> Arc<Route> {
    Arc::new(Route {
        service: "app".into(),
        container: "p-app".into(),
        container_port: 80,
        udp,
        network: "p".into(),
        target: Mutex::new(None),
    })
}

fn forwarder(r: &Arc<Route>) -> Forwarder {
    Forwarder {
        routes: Arc::new(HashMap::from([("app".to_string(), vec![Arc::clone(r)])])),
    }
}

async fn ask(s: &mut TcpStream, what: &str) -> String {
    s.write_all(what.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_swap_sends_new_connections_to_the_new_container_and_keeps_the_old_ones() {
    let (old, new) = (tcp_backend("old").await, tcp_backend("new").await);
    let r = route(false);
    let f = forwarder(&r);
    f.point("app", &serving(old.port(), false));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap();
    let engine: Arc<dyn Engine> = Arc::new(crate::engine::fake::Fake::default());
    tokio::spawn(accept_loop(listener, Arc::clone(&r), engine));

    let mut before = TcpStream::connect(host).await.unwrap();
    assert_eq!(ask(&mut before, "1").await, "old:1");
    f.point("app", &serving(new.port(), false));
    let mut after = TcpStream::connect(host).await.unwrap();
    assert_eq!(ask(&mut after, "2").await, "new:2");
    // The connection made before the swap still talks to the old container.
    assert_eq!(ask(&mut before, "3").await, "old:3");
}

#[tokio::test]
async fn a_connection_with_no_container_to_go_to_is_closed_not_held() {
    let r = route(false);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap();
    // The fake engine has no container `p-app`: nothing to resolve.
    let engine: Arc<dyn Engine> = Arc::new(crate::engine::fake::Fake::default());
    tokio::spawn(accept_loop(listener, r, engine));
    let mut s = TcpStream::connect(host).await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn udp_datagrams_follow_the_swap_and_replies_come_back_to_the_client() {
    let (old, new) = (udp_backend("old").await, udp_backend("new").await);
    let r = route(true);
    let f = forwarder(&r);
    f.point("app", &serving(old.port(), true));
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let host = socket.local_addr().unwrap();
    let engine: Arc<dyn Engine> = Arc::new(crate::engine::fake::Fake::default());
    tokio::spawn(udp_loop(socket, Arc::clone(&r), engine));

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(host).await.unwrap();
    let mut buf = [0u8; 64];
    let mut roundtrip = async |what: &str| {
        client.send(what.as_bytes()).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(roundtrip("a").await, "old:a");
    assert_eq!(roundtrip("b").await, "old:b");
    f.point("app", &serving(new.port(), true));
    assert_eq!(roundtrip("c").await, "new:c");
}

#[test]
fn containers_are_reached_at_their_address_only_where_the_gateway_is_this_hosts() {
    use super::reach_of_gateways;
    use crate::container::Reach;
    // No network said, a documentation address (TEST-NET-3: not this host's), loopback: the engine publishes.
    assert_eq!(reach_of_gateways(&[]), Reach::Published);
    assert_eq!(
        reach_of_gateways(&["203.0.113.1".parse().unwrap()]),
        Reach::Published
    );
    assert_eq!(
        reach_of_gateways(&["127.0.0.1".parse().unwrap()]),
        Reach::Published
    );
    // One of this host's own (a local engine's bridge gateway): tests/swap.rs, against the real engine.
}
