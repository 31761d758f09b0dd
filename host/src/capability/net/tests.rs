//! Whole exchanges: requests refused before any connection, and live ones
//! against [`Server`]. They call [`exchange`] without the panic guard of
//! [`http_request`], so a panic fails a test instead of passing as an error.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::test_server::Server;
use super::*;
use crate::capability::Denial;

fn grants(net: &[&str]) -> Grants {
    let mut grants = Grants::none();
    for endpoint in net {
        grants.allow_net(endpoint).expect("a valid grant");
    }
    grants
}

/// One exchange, unguarded, as the JSON the guest would receive.
fn run(grants: &Grants, request: &[u8], timeout: Duration, max_body: usize, checks: &mut Vec<Check>) -> Value {
    let answer = wire::answer(exchange("fetch", grants, request, timeout, max_body, checks));
    serde_json::from_slice(&answer).expect("the answer is JSON")
}

fn call(net: &[&str], request: &[u8]) -> (Value, Vec<Check>) {
    let mut checks = Vec::new();
    let answer = run(&grants(net), request, Duration::from_secs(5), 1 << 20, &mut checks);
    (answer, checks)
}

#[test]
fn the_guarded_entry_answers_as_the_exchange_does() {
    let request = br#"{"url":"http://no-such-host.invalid:81/x"}"#;
    let mut checks = Vec::new();
    let guarded = http_request("fetch", &grants(&[]), request, Duration::from_secs(5), 64, &mut checks);
    let guarded: Value = serde_json::from_slice(&guarded).unwrap();
    assert_eq!(guarded, call(&[], request).0);
    assert_ne!(guarded["message"], PANICKED);
}

#[test]
fn ungranted_hosts_are_denied_without_a_lookup() {
    let (answer, checks) = call(&["127.0.0.1:1"], br#"{"url":"http://no-such-host.invalid:81/x"}"#);
    assert_eq!(answer["status"], "error");
    assert_eq!(answer["denied"], true);
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("plugin `fetch`"), "{message}");
    assert!(message.contains("http://no-such-host.invalid:81/x"), "{message}");
    assert!(
        message.contains("--allow-net fetch=no-such-host.invalid:81"),
        "{message}"
    );
    assert!(
        message.contains(r#"allow_net = ["no-such-host.invalid:81"]"#),
        "{message}"
    );
    assert_eq!(checks.len(), 1);
    assert!(!checks[0].allowed);
}

#[test]
fn a_name_resolving_to_loopback_needs_the_address_granted() {
    let (answer, checks) = call(&["localhost:9"], br#"{"url":"http://localhost:9/"}"#);
    assert_eq!(answer["denied"], true, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("loopback"), "{message}");
    assert!(
        message.contains("--allow-net fetch=127.0.0.1:9") || message.contains("--allow-net fetch=[::1]:9"),
        "{message}"
    );
    assert!(!checks[0].allowed);
}

#[test]
fn deny_net_wins_over_grants() {
    let mut g = grants(&["localhost:9", "127.0.0.1:9", "[::1]:9"]);
    let rule = |written: &str| Denial::Net(written.parse().unwrap());
    g.denied = vec![rule("LOCALHOST:9")];
    let mut checks = Vec::new();
    let second = Duration::from_secs(5);
    let answer = run(&g, br#"{"url":"http://localhost:9/"}"#, second, 64, &mut checks);
    assert_eq!(answer["denied"], true, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("is refused by `--deny-net fetch=localhost:9` for this run"),
        "{answer}"
    );
    // Every address the name resolves to refused: refused, with no grant to suggest.
    g.denied = vec![rule("127.0.0.1:9"), rule("[0::1]:9")];
    let answer = run(&g, br#"{"url":"http://localhost:9/"}"#, second, 64, &mut checks);
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("refused by `--deny-net fetch=127.0.0.1:9`"),
        "{message}"
    );
    assert!(!message.contains("to allow it"), "{message}");
    let answer = run(&g, br#"{"url":"http://127.0.0.1:9/"}"#, second, 64, &mut checks);
    assert_eq!(answer["denied"], true, "{answer}");
    assert_eq!(checks.iter().filter(|c| c.allowed).count(), 0);
}

#[test]
fn malformed_requests_are_errors_not_panics() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"",
            "invalid http_request request: EOF while parsing a value at line 1 column 0",
        ),
        (
            b"\xff\xfe",
            "invalid http_request request: expected value at line 1 column 1",
        ),
        (
            b"null",
            "invalid http_request request: invalid type: null, expected struct HttpRequest",
        ),
        (
            b"[]",
            "invalid http_request request: invalid length 1, expected struct HttpRequest with 5 elements",
        ),
        (b"{}", "invalid http_request request: missing field `url`"),
        (
            br#"{"url":1}"#,
            "invalid http_request request: invalid type: integer `1`, expected a string",
        ),
        (br#"{"url":"nope"}"#, "`nope` is not a URL: relative URL without a base"),
        (
            br#"{"url":"ftp://127.0.0.1:21/"}"#,
            "only http and https URLs are supported, not `ftp`",
        ),
        (
            br#"{"url":"file:///etc/passwd"}"#,
            "only http and https URLs are supported, not `file`",
        ),
        (
            br#"{"url":"http://user:pw@127.0.0.1:1/"}"#,
            "credentials in the URL are not supported",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","method":"CONNECT"}"#,
            "unsupported HTTP method `CONNECT`",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","method":"G ET"}"#,
            "unsupported HTTP method `G ET`",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","headers":{"bad name":"x"}}"#,
            "`bad name` is not a valid header name",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","headers":{"x":"a\nb"}}"#,
            "the value of header `x` is not a valid header value",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","headers":{"content-length":"5"}}"#,
            "the header `content-length` is set by the host",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","body":"a","body_base64":"YQ=="}"#,
            "give `body` or `body_base64`, not both",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","body_base64":"***"}"#,
            "`body_base64` is not base64",
        ),
        (
            br#"{"url":"http://127.0.0.1:1/","extra":true}"#,
            "invalid http_request request: unknown field `extra`",
        ),
        (
            br#"{"url":"http://[::1"}"#,
            "`http://[::1` is not a URL: invalid IPv6 address",
        ),
        (br#"{"url":"http://:80/"}"#, "`http://:80/` is not a URL: empty host"),
    ];
    for (case, expected) in cases {
        let (answer, checks) = call(&["127.0.0.1:1"], case);
        let shown = String::from_utf8_lossy(case);
        assert_eq!(answer["status"], "error", "{shown}");
        assert_eq!(answer["denied"], false, "{shown}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(expected), "{shown}: {message}");
        assert!(checks.is_empty(), "{shown}");
    }
    let long = format!(r#"{{"url":"http://127.0.0.1:1/{}"}}"#, "a".repeat(MAX_URL));
    let message = call(&[], long.as_bytes()).0["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .contains(&format!("more than the limit of {MAX_URL}")),
        "{message}"
    );
    let many: BTreeMap<String, String> = (0..=MAX_HEADERS).map(|i| (format!("h{i}"), "v".into())).collect();
    let request = serde_json::to_vec(&json!({"url": "http://127.0.0.1:1/", "headers": many})).unwrap();
    assert_eq!(
        call(&["127.0.0.1:1"], &request).0["message"],
        format!(
            "{} request headers, more than the limit of {MAX_HEADERS}",
            MAX_HEADERS + 1
        )
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let message = call(&[], deep.as_bytes()).0["message"].clone();
    // Refused at its first element, without descending.
    assert_eq!(
        message,
        "invalid http_request request: invalid type: sequence, expected a string at line 1 column 1"
    );
    let error = super::wire::Request::parse(&[b' '; 1025], 1024)
        .err()
        .expect("over the limit");
    assert!(
        format!("{error:?}").contains("the http_request request is 1025 bytes, more than the limit of 1024"),
        "{error:?}"
    );
}

#[test]
fn fuzzish_inputs_never_panic() {
    // A small deterministic generator: mutations of valid requests.
    let seeds: &[&[u8]] = &[
        br#"{"method":"POST","url":"http://127.0.0.1:1/a?b#c","headers":{"accept":"*/*"},"body":"x"}"#,
        br#"{"url":"https://[::1]:1/","body_base64":"AAEC"}"#,
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Only loopback endpoints: a mutation never reaches anything else.
    let loopback = grants(&["127.0.0.1:1", "[::1]:1"]);
    for _ in 0..300 {
        let seed = seeds[(next() % seeds.len() as u64) as usize];
        let mut bytes = seed.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() % bytes.len() as u64) as usize;
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => {
                    bytes.remove(at);
                }
                _ => {
                    const BYTES: &[u8] = b"{}[]\":\\/@%\x00\xff";
                    bytes.insert(at, BYTES[(next() % BYTES.len() as u64) as usize]);
                }
            }
        }
        // Unguarded: a panic here fails the test.
        let answer = run(&loopback, &bytes, Duration::from_millis(200), 16, &mut Vec::new());
        let status = answer["status"].as_str();
        assert!(matches!(status, Some("ok" | "error")), "{answer}");
        if status == Some("error") {
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
        }
    }
}

fn live(net: &[&str], request: Value, timeout: Duration, max_body: usize) -> (Value, Vec<Check>) {
    let mut checks = Vec::new();
    let bytes = serde_json::to_vec(&request).unwrap();
    let answer = run(&grants(net), &bytes, timeout, max_body, &mut checks);
    (answer, checks)
}

#[test]
fn granted_requests_go_through() {
    let server = Server::start();
    let g = [server.grant()];
    let g: Vec<&str> = g.iter().map(String::as_str).collect();
    let second = Duration::from_secs(5);
    let (answer, checks) = live(&g, json!({"url": server.url("/json")}), second, 1 << 20);
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["response"]["status"], 200);
    assert_eq!(answer["response"]["body"], r#"{"hello":"world"}"#);
    assert_eq!(answer["response"]["headers"]["content-type"], "application/json");
    assert_eq!(checks.len(), 1);
    assert!(
        checks[0].allowed && checks[0].detail.contains(&server.grant()),
        "{checks:?}"
    );

    // Error statuses are answers; repeated headers are joined.
    let (answer, _) = live(&g, json!({"url": server.url("/missing")}), second, 1 << 20);
    assert_eq!(answer["response"]["status"], 404, "{answer}");
    assert_eq!(answer["response"]["body"], "no such thing");
    let request = json!({"method": "post", "url": server.url("/echo"), "body": "hi",
                         "headers": {"Authorization": "secret"}});
    let (answer, _) = live(&g, request, second, 1 << 20);
    assert_eq!(answer["response"]["body"], "POST hi auth=true", "{answer}");
    assert_eq!(answer["response"]["headers"]["x-multi"], "a, b");

    // Bytes that are not UTF-8 travel as base64, both ways.
    let (answer, _) = live(&g, json!({"url": server.url("/binary")}), second, 1 << 20);
    assert_eq!(answer["response"]["body_base64"], "AJ+Slv8=", "{answer}");
    assert!(answer["response"].get("body").is_none());
    let request = json!({"method": "PUT", "url": server.url("/echo"), "body_base64": "aGk="});
    assert_eq!(
        live(&g, request, second, 1 << 20).0["response"]["body"],
        "PUT hi auth=false"
    );

    // Redirects on the same granted endpoint are followed, each hop checked.
    let request = json!({"method": "POST", "url": server.url("/to-echo"), "body": "again"});
    let (answer, checks) = live(&g, request, second, 1 << 20);
    assert_eq!(answer["response"]["body"], "POST again auth=false", "{answer}");
    assert_eq!(answer["response"]["url"], server.url("/echo"));
    assert_eq!(checks.len(), 2);
    let request = json!({"method": "POST", "url": server.url("/see-other"), "body": "dropped"});
    assert_eq!(
        live(&g, request, second, 1 << 20).0["response"]["body"],
        "GET  auth=false"
    );
}

#[test]
fn denials_and_limits() {
    let server = Server::start();
    let grant = server.grant();
    let g = [grant.as_str()];
    let second = Duration::from_secs(5);

    // Another port, another host.
    let other_port = format!("http://127.0.0.1:{}/json", server.port.wrapping_add(1).max(1));
    let (answer, _) = live(&g, json!({"url": other_port}), second, 1 << 20);
    assert_eq!(answer["denied"], true, "{answer}");
    let (answer, _) = live(
        &g,
        json!({"url": format!("http://127.0.0.2:{}/json", server.port)}),
        second,
        1 << 20,
    );
    assert_eq!(answer["denied"], true, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains(&format!("--allow-net fetch=127.0.0.2:{}", server.port))
    );

    // A redirect to an ungranted host: the first hop is allowed, the second denied.
    let (answer, checks) = live(&g, json!({"url": server.url("/elsewhere")}), second, 1 << 20);
    assert_eq!(answer["denied"], true, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("a redirect from") && message.contains("127.0.0.2"),
        "{message}"
    );
    assert_eq!(checks.iter().map(|c| c.allowed).collect::<Vec<_>>(), [true, false]);

    // A granted name resolving to an ungranted loopback address; granting it allows it.
    let by_name = format!("localhost:{}", server.port);
    let (answer, _) = live(
        &[&grant, &by_name],
        json!({"url": server.url("/to-localhost")}),
        second,
        1 << 20,
    );
    assert_eq!(answer["status"], "ok", "{answer}");
    let (answer, _) = live(
        &[&by_name],
        json!({"url": format!("http://{by_name}/json")}),
        second,
        1 << 20,
    );
    assert_eq!(answer["denied"], true, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("loopback"), "{answer}");

    // Limits: body size, redirects, time.
    let (answer, _) = live(&g, json!({"url": server.url("/big")}), second, 1000);
    assert_eq!(answer["denied"], false, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("limit of 1000 bytes"),
        "{answer}"
    );
    let (answer, checks) = live(&g, json!({"url": server.url("/loop")}), second, 1 << 20);
    assert!(
        answer["message"].as_str().unwrap().contains("more than 10 redirects"),
        "{answer}"
    );
    assert_eq!(checks.len(), MAX_REDIRECTS + 1);
    let started = Instant::now();
    let (answer, _) = live(
        &g,
        json!({"url": server.url("/slow")}),
        Duration::from_millis(300),
        1 << 20,
    );
    assert!(
        answer["message"].as_str().unwrap().contains("longer than 300ms"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}
