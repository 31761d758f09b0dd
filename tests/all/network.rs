//! The network capability end to end: a plugin (`network.wasm`, and inline
//! Python) calling an HTTP service that the test starts on 127.0.0.1. Allowed
//! when granted; refused for another port, another host, a redirect to an
//! ungranted host and a name that resolves to an ungranted address; bounded in
//! size and time. Every denial names the plugin, the URL and the grant to add.
//!
//! Only loopback addresses are ever reached: everything else is refused
//! before any connection (and before any name lookup).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmflow::engine::{Status, Workflow};
use wasmflow::script::{Catalog, Limits, PYTHON, ScriptEngine};
use wasmflow_tests::*;

/// A tiny HTTP/1.1 server on 127.0.0.1, stopped when dropped.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let flag = flag.clone();
                        std::thread::spawn(move || serve(stream, port, &flag));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The grant for this server: `127.0.0.1:PORT`.
    fn grant(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request: `/json`, `/missing` (404), `/big` (64 KiB), `/slow`
/// (never answers), `/elsewhere` (a redirect to 127.0.0.2), `/to-json` (a
/// redirect to `/json`), `/headers` (the request's headers as a JSON object),
/// `/to/PORT` (a redirect to `http://127.0.0.1:PORT/headers`).
fn serve(mut stream: TcpStream, port: u16, stop: &AtomicBool) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let reply = |status: &str, headers: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    let out = match path.as_str() {
        "/json" => reply(
            "200 OK",
            "content-type: application/json\r\n",
            br#"{"product": "a", "price": 15.0}"#,
        ),
        "/missing" => reply("404 Not Found", "", b"no such product"),
        "/big" => reply("200 OK", "content-type: application/json\r\n", &vec![b' '; 64 << 10]),
        "/slow" => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        "/elsewhere" => reply("302 Found", &format!("location: http://127.0.0.2:{port}/json\r\n"), b""),
        "/to-json" => reply("301 Moved Permanently", "location: /json\r\n", b""),
        "/headers" => {
            let seen: serde_json::Map<String, Value> = head
                .lines()
                .skip(1)
                .filter_map(|line| line.split_once(':'))
                .map(|(name, value)| (name.trim().to_ascii_lowercase(), json!(value.trim())))
                .collect();
            reply(
                "200 OK",
                "content-type: application/json\r\n",
                Value::Object(seen).to_string().as_bytes(),
            )
        }
        _ if path.starts_with("/to/") => reply(
            "307 Temporary Redirect",
            &format!("location: http://127.0.0.1:{}/headers\r\n", &path["/to/".len()..]),
            b"",
        ),
        _ => reply("500 Internal Server Error", "", b"unknown path"),
    };
    let _ = stream.write_all(&out);
}

/// A script engine on the same executor where the `network` plugin (the
/// operations `fetch_json` and `fetch_text`) and the built-in interpreter have
/// the network grants `net`.
fn granted(scripts: &ScriptEngine, net: &[&str], limits: Limits) -> ScriptEngine {
    let mut catalog = Catalog::new(plugin_dir());
    catalog.limits = limits;
    for plugin in ["network", PYTHON] {
        let entry = catalog.entry_mut(plugin);
        for endpoint in net {
            entry.grants.allow_net(endpoint).expect("a valid grant");
        }
    }
    for operation in ["fetch_json", "fetch_text"] {
        catalog.services.insert(operation.into(), "network".into());
    }
    ScriptEngine::with_catalog(scripts.executor().clone(), catalog)
}

/// `start → fetch_json(url) → end`, the result in `result`.
const FETCH: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="net" targetNamespace="http://wasmflow.dev/tests">
  <bpmn:process id="fetch" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="task" name="Fetch">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="fetch_json" resultVariable="result">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="url" type="str" value="url"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#;

fn fetch(scripts: &ScriptEngine, url: &str) -> Workflow {
    run_xml(FETCH, json!({ "url": url }), scripts)
}

/// Expects the workflow to have failed on a denial naming the plugin, the URL
/// and the grant to add; answers the message.
fn denied(workflow: &Workflow, plugin: &str, url: &str, grant: &str) -> String {
    assert_eq!(workflow.status(), Status::Error, "data: {:?}", workflow.data());
    let error = workflow.error().expect("an error");
    let message = &error.message;
    assert!(message.contains(&format!("plugin `{plugin}`")), "{message}");
    assert!(message.contains(url), "{message}");
    assert!(message.contains(&format!("--allow-net {plugin}={grant}")), "{message}");
    assert!(message.contains(&format!("allow_net = [\"{grant}\"]")), "{message}");
    message.clone()
}

for_each_executor! {
    #[test]
    fn allowed_when_granted(scripts: &ScriptEngine) {
        let server = Server::start();
        let scripts = granted(scripts, &[&server.grant()], Limits::default());
        let workflow = fetch(&scripts, &server.url("/json"));
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["result"], json!({"product": "a", "price": 15.0}));

        // A redirect within the grant is followed.
        let workflow = fetch(&scripts, &server.url("/to-json"));
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["result"]["price"], json!(15.0));

        // An error status is an answer: the plugin throws it as the BPMN error `http_error`.
        let workflow = fetch(&scripts, &server.url("/missing"));
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(error.code.as_deref(), Some("http_error"), "{error:?}");
    }

    #[test]
    fn nothing_is_reachable_without_a_grant(scripts: &ScriptEngine) {
        let server = Server::start();
        let url = server.url("/json");
        let workflow = fetch(&granted(scripts, &[], Limits::default()), &url);
        denied(&workflow, "network", &url, &server.grant());
    }

    #[test]
    fn refused_for_another_port(scripts: &ScriptEngine) {
        let server = Server::start();
        let scripts = granted(scripts, &[&server.grant()], Limits::default());
        let other = if server.port == u16::MAX { server.port - 1 } else { server.port + 1 };
        let url = format!("http://127.0.0.1:{other}/json");
        denied(&fetch(&scripts, &url), "network", &url, &format!("127.0.0.1:{other}"));
    }

    #[test]
    fn refused_for_another_host(scripts: &ScriptEngine) {
        let server = Server::start();
        let scripts = granted(scripts, &[&server.grant()], Limits::default());
        let url = format!("http://127.0.0.2:{}/json", server.port);
        denied(&fetch(&scripts, &url), "network", &url, &format!("127.0.0.2:{}", server.port));
    }

    #[test]
    fn refused_for_a_redirect_to_an_ungranted_host(scripts: &ScriptEngine) {
        let server = Server::start();
        let scripts = granted(scripts, &[&server.grant()], Limits::default());
        let target = format!("http://127.0.0.2:{}/json", server.port);
        let workflow = fetch(&scripts, &server.url("/elsewhere"));
        let message = denied(&workflow, "network", &target, &format!("127.0.0.2:{}", server.port));
        assert!(message.contains(&format!("a redirect from {}", server.url("/elsewhere"))), "{message}");
    }

    #[test]
    fn refused_for_a_name_resolving_to_an_ungranted_address(scripts: &ScriptEngine) {
        let server = Server::start();
        let name = format!("localhost:{}", server.port);
        let url = format!("http://{name}/json");
        // `localhost` is granted, but it resolves to loopback addresses that are not.
        let workflow = fetch(&granted(scripts, &[&name], Limits::default()), &url);
        assert_eq!(workflow.status(), Status::Error);
        let message = &workflow.error().unwrap().message;
        assert!(message.contains("plugin `network`") && message.contains(&url), "{message}");
        assert!(message.contains("loopback"), "{message}");
        assert!(
            message.contains(&format!("--allow-net network={}", server.grant()))
                || message.contains(&format!("--allow-net network=[::1]:{}", server.port)),
            "{message}"
        );
        // Granting the name and its address allows it.
        let workflow = fetch(&granted(scripts, &[&name, &server.grant()], Limits::default()), &url);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["result"]["product"], json!("a"));
        // The address alone does not grant the name.
        let workflow = fetch(&granted(scripts, &[&server.grant()], Limits::default()), &url);
        denied(&workflow, "network", &url, &name);
    }

    #[test]
    fn a_body_larger_than_the_limit_is_refused(scripts: &ScriptEngine) {
        let server = Server::start();
        let limits = Limits { response: 32 << 10, ..Limits::default() };
        let workflow = fetch(&granted(scripts, &[&server.grant()], limits), &server.url("/big"));
        assert_eq!(workflow.status(), Status::Error);
        let message = &workflow.error().unwrap().message;
        assert!(message.contains("larger than the limit of 32768 bytes"), "{message}");
    }

    #[test]
    fn a_server_that_never_answers_hits_the_time_limit(scripts: &ScriptEngine) {
        let server = Server::start();
        let limits = Limits { timeout: Duration::from_secs(1), ..Limits::default() };
        let scripts = granted(scripts, &[&server.grant()], limits);
        // Compile the plugin first (a cold cache must not count against the bound).
        assert_eq!(fetch(&scripts, &server.url("/json")).status(), Status::Completed);
        let started = Instant::now();
        let workflow = fetch(&scripts, &server.url("/slow"));
        let elapsed = started.elapsed();
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert!(
            error.message.contains("the HTTP exchange took longer than") || error.reason == "deadline",
            "{error:?}"
        );
        assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    }

    #[test]
    fn a_redirect_to_another_origin_carries_only_safelisted_headers(scripts: &ScriptEngine) {
        // Two ports on 127.0.0.1 are two origins; both are granted, so only the headers differ.
        let first = Server::start();
        let second = Server::start();
        let scripts = granted(scripts, &[&first.grant(), &second.grant()], Limits::default());
        let seen_through = |redirect: &str| {
            let source = format!(
                "r = http_request('{redirect}', headers={{'x-api-key': 'k3y', 'accept': 'application/json', \
                 'authorization': 'Bearer t', 'content-language': 'en'}})\nseen = json.decode(r['body'])"
            );
            let workflow = run_xml(&inline_task(&source), json!({}), &scripts);
            assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
            workflow.data()["seen"].clone()
        };

        let seen = seen_through(&first.url(&format!("/to/{}", second.port)));
        for secret in ["x-api-key", "authorization"] {
            assert!(seen.get(secret).is_none(), "{secret} crossed to another origin: {seen}");
        }
        assert_eq!(seen["accept"], "application/json", "{seen}");
        assert_eq!(seen["content-language"], "en", "{seen}");

        // The same origin keeps them all.
        let seen = seen_through(&first.url(&format!("/to/{}", first.port)));
        assert_eq!(seen["x-api-key"], "k3y", "{seen}");
        assert_eq!(seen["authorization"], "Bearer t", "{seen}");
        assert_eq!(seen["accept"], "application/json", "{seen}");
    }

    #[test]
    fn inline_python_calls_http_request(scripts: &ScriptEngine) {
        let server = Server::start();
        let source = format!(
            "r = http_request('{}')\nprice = json.decode(r['body'])['price']\nstatus = r['status']",
            server.url("/json")
        );
        let allowed = granted(scripts, &[&server.grant()], Limits::default());
        let workflow = run_xml(&inline_task(&source), json!({}), &allowed);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["price"], json!(15.0));
        assert_eq!(workflow.data()["status"], json!(200));

        let workflow = run_xml(&inline_task(&source), json!({}), &granted(scripts, &[], Limits::default()));
        let message = denied(&workflow, PYTHON, &server.url("/json"), &server.grant());
        assert!(workflow.error().unwrap().line.is_some(), "{message}");
    }
}

#[test]
fn the_command_line_grants_with_allow_net() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("wasmflow.toml");
    let module = plugin("network").display().to_string().replace('\\', "/");
    std::fs::write(
        &manifest,
        format!("[plugins.network]\nmodule = \"{module}\"\nservices = [\"fetch_json\"]\n"),
    )
    .unwrap();
    let diagram = dir.path().join("fetch.bpmn");
    std::fs::write(&diagram, FETCH).unwrap();
    let data = json!({"url": server.url("/json")}).to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            diagram.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--json",
            "--data",
            &data,
        ];
        args.extend_from_slice(extra);
        cli(&args)
    };
    let output = run(&[]);
    assert!(!output.status.success());
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(
        all.contains(&format!("--allow-net network={}", server.grant())),
        "{all}"
    );

    let grant = format!("network={}", server.grant());
    let output = run(&["--allow-net", &grant]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert!(result.to_string().contains(r#""price":15.0"#), "{result}");
}

#[test]
fn denials_are_answers_the_plugin_can_read() {
    // The raw exchange as the host function answers it, for the record.
    let mut checks = Vec::new();
    let answer = wasmflow::capability::net::http_request(
        "network",
        &wasmflow::capability::Grants::none(),
        br#"{"url": "http://127.0.0.1:9/"}"#,
        Duration::from_secs(1),
        1024,
        &mut checks,
    );
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["status"], "error");
    assert_eq!(answer["denied"], true);
    assert_eq!(checks.len(), 1);
    assert!(!checks[0].allowed);
}
