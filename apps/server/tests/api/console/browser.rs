//! The console in a real browser: Debian's chromium, driven through chromedriver, against
//! `pganalytics-server demo` (its private PostgreSQL, its agent's live data). A person
//! signs in, opens every page, changes the range (links, the custom form, drag-to-zoom),
//! hovers a chart, searches the logs, acknowledges and silences an alert as a user, is
//! refused the admin page as a viewer and signs out; the administrator creates a
//! registration token. No page logs a console error or loads anything that fails. A
//! screenshot of each page is kept under `target/tmp/console-screenshots/` for review.
//!
//! A missing browser fails the test with the command that installs it.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use crate::helpers::reply;
use crate::zero_config::start_demo_with;

const ADMIN_PASSWORD: &str = "console-browser-pass-9";

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// chromium and chromedriver, or a failure saying how to install them.
fn browser_binaries() -> (PathBuf, PathBuf) {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(n))
                    .find(|f| f.is_file())
            })
        })
    };
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find(&["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        _ => panic!(
            "the console's browser test needs chromium and chromedriver: \
             `sudo apt-get install chromium chromium-driver` (Debian; .ci/run installs them)"
        ),
    }
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(path: &Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    wait_for("chromedriver to be ready", Duration::from_secs(30), || {
        ureq::get(&status)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
            .is_some_and(|v| v["value"]["ready"] == true)
    });
    Driver { child, url }
}

/// chromedriver's browser log (`POST /session/{id}/se/log`), which fantoccini does not wrap.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (ureq::http::Method, Option<String>) {
        (
            ureq::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The person at the browser.
struct Person {
    c: Client,
    base: String,
    shots: PathBuf,
}

impl Person {
    async fn open(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    async fn path(&self) -> String {
        let u = self.c.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    async fn text(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Clicks `css` without waiting for anything.
    async fn press(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Marks the current document, so a test can wait for the next one to load.
    async fn mark(&self) {
        self.c
            .execute("window.__pgaOld = true; return true", vec![])
            .await
            .unwrap();
    }

    /// Waits for a new document (after [`mark`](Self::mark)) to finish loading.
    async fn loaded(&self, what: &str) {
        wait_async(what, || async {
            self.c
                .execute(
                    "return window.__pgaOld === undefined && document.readyState === 'complete'",
                    vec![],
                )
                .await
                .is_ok_and(|v| v == true)
        })
        .await;
    }

    /// Clicks `css` and waits for the page it leads to.
    async fn click(&self, css: &str) {
        self.mark().await;
        self.press(css).await;
        self.loaded(css).await;
    }

    async fn body(&self) -> String {
        self.c.source().await.unwrap()
    }

    /// What the page must be: no console error, nothing that failed to load, a heading,
    /// and a screenshot for review.
    async fn check(&self, name: &str) {
        self.check_status(name, 200).await;
    }

    /// [`check`](Self::check) for a page answered with `status` (a refusal is a page too:
    /// its own status is the only error allowed).
    async fn check_status(&self, name: &str, status: u16) {
        let log = self.c.issue_cmd(BrowserLog).await.unwrap();
        let expected = format!("status of {status}");
        let severe: Vec<&Value> = log
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .filter(|e| {
                        status == 200 || !e["message"].as_str().unwrap_or("").contains(&expected)
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(severe.is_empty(), "{name}: console errors: {severe:?}");
        let page = self
            .c
            .execute(
                "return performance.getEntriesByType('navigation')[0].responseStatus",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(page, json!(status), "{name}: the page's status");
        let failed = self
            .c
            .execute(
                "return performance.getEntriesByType('resource')\
                 .filter(e => e.responseStatus >= 400 || e.responseStatus === 0)\
                 .map(e => e.name + ' ' + e.responseStatus)",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(failed, json!([]), "{name}: failed requests");
        let resources = self
            .c
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)",
                vec![],
            )
            .await
            .unwrap();
        for r in resources.as_array().unwrap() {
            assert!(
                r.as_str().unwrap().starts_with(&self.base),
                "{name}: loaded from elsewhere: {r}"
            );
        }
        assert!(
            !self.text("h1").await.is_empty(),
            "{name}: the page has a heading"
        );
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, user: &str, password: &str) {
        self.open("/console/").await;
        assert!(
            self.path().await.starts_with("/console/sign-in"),
            "{}",
            self.path().await
        );
        self.fill("#username", user).await;
        self.fill("#password", password).await;
        self.click("section.signin button[type=submit]").await;
        let at = self.path().await;
        if at != "/console/fleet" {
            let text = self.text("main").await;
            panic!("signing in as {user} ended at {at}: {text}");
        }
    }

    async fn sign_out(&self) {
        self.click(".who button").await;
        assert!(self.path().await.starts_with("/console/sign-in"));
        self.open("/console/fleet").await;
        assert!(
            self.path().await.starts_with("/console/sign-in"),
            "signed out for good"
        );
    }
}

/// The demo with a known administrator password and a quick alert evaluator.
struct Demo {
    child: Child,
    url: String,
    client: ureq::Agent,
    api: String,
    data: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    fn start() -> Self {
        let root = pganalytics_adapters::testing::test_root();
        std::fs::create_dir_all(&root).unwrap();
        let data = tempfile::Builder::new()
            .prefix(&format!("{}-console", std::process::id()))
            .tempdir_in(&root)
            .unwrap();
        let (child, url, _, _) = start_demo_with(
            data.path(),
            &[
                ("PGANALYTICS_ADMIN_PASSWORD", ADMIN_PASSWORD),
                ("PGANALYTICS_ALERT_INTERVAL_SECONDS", "2"),
            ],
        );
        let ca =
            Certificate::from_pem(&std::fs::read(data.path().join("ca.pem")).unwrap()).unwrap();
        let client: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(
                TlsConfig::builder()
                    .provider(TlsProvider::NativeTls)
                    .root_certs(RootCerts::new_with_certs(&[ca]))
                    .build(),
            )
            .http_status_as_error(false)
            .build()
            .into();
        let mut d = Self {
            child,
            url,
            client,
            api: String::new(),
            data,
        };
        let login = d.call(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
        );
        assert_eq!(login.0, 200, "{}", login.1);
        d.api = login.1["access_token"].as_str().unwrap().to_owned();
        d
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.api));
        let res = match body {
            Some(b) => self.client.run(
                req.header("Content-Type", "application/json")
                    .body(b.to_string().into_bytes())
                    .unwrap(),
            ),
            None => self.client.run(req.body(()).unwrap()),
        };
        let r = reply(res);
        (r.status, r.body)
    }

    fn user(&self, name: &str, role: &str) -> String {
        let (status, body) = self.call(
            "POST",
            "/api/v1/users",
            Some(json!({"username": name, "role": role})),
        );
        assert_eq!(status, 201, "{body}");
        body["password"].as_str().unwrap().to_owned()
    }

    /// Runs SQL on the demo's private cluster (its errors are the point).
    fn sql(&self, sql: &str) {
        use diesel::Connection as _;
        use diesel::connection::SimpleConnection as _;
        let url = format!(
            "postgresql:///postgres?host={}&user=postgres",
            self.data.path().join("postgres/run").display()
        );
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        let _ = conn.batch_execute(sql);
    }
}

#[test]
fn a_person_uses_the_console_in_a_real_browser() {
    let (chromium, chromedriver) = browser_binaries();
    let demo = Demo::start();

    // The demo's agent reports; an alert fires on its data; an error reaches the log.
    wait_for("the agent's data", Duration::from_secs(120), || {
        let (_, fleet) = demo.call("GET", "/api/v1/fleet", None);
        fleet["servers"]
            .as_array()
            .and_then(|s| s.first())
            .is_some_and(|s| s["state"] == "up" && !s["version"].is_null())
    });
    // Quick cadences, so statements and tables arrive within the test.
    let (_, collectors) = demo.call("GET", "/api/v1/collectors", None);
    let collector = collectors["collectors"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = demo.call(
        "PUT",
        &format!("/api/v1/config/{collector}"),
        Some(json!({"intervals": {"activity": 5, "database": 5, "replication": 5, "host": 5, "tables": 5, "statements": 5, "disk": 5}})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = demo.call(
        "POST",
        "/api/v1/alert-rules",
        Some(json!({
            "name": "console_demo_sessions", "severity": "warning",
            "summary": "{{ server }} has {{ value }} connections",
            "condition": {"type": "metric", "family": "pg_server", "column": "connections",
                          "window": "5m", "op": ">", "threshold": 0}
        })),
    );
    assert_eq!(status, 201, "{body}");
    demo.sql("SELECT * FROM console_browser_missing_table");
    wait_for("the alert to fire", Duration::from_secs(90), || {
        let (_, alerts) = demo.call("GET", "/api/v1/alerts?state=firing", None);
        alerts
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["rule"] == "console_demo_sessions"))
    });
    wait_for(
        "the error to arrive as an event",
        Duration::from_secs(90),
        || {
            let (_, page) = demo.call(
                "GET",
                "/api/v1/log-events?q=console_browser_missing_table",
                None,
            );
            page["events"].as_array().is_some_and(|e| !e.is_empty())
        },
    );
    let (_, servers) = demo.call("GET", "/api/v1/servers", None);
    let id = servers["servers"][0]["id"].as_i64().unwrap();
    wait_for("query statistics", Duration::from_secs(120), || {
        demo.sql("SELECT count(*) FROM pg_class");
        let (_, top) = demo.call(
            "GET",
            &format!(
                "/api/v1/servers/{id}/statements?from={}",
                pganalytics_domain::console::range::rfc3339(
                    time::OffsetDateTime::now_utc() - time::Duration::hours(1)
                )
            ),
            None,
        );
        top["statements"].as_array().is_some_and(|s| !s.is_empty())
    });
    let user_password = demo.user("ursula", "user");
    let viewer_password = demo.user("victor", "viewer");

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let driver = start_driver(&chromedriver);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let caps = json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,800", "--no-first-run", "--disable-extensions",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        });
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&driver.url)
            .await
            .expect("a chromium session through chromedriver");
        let p = Person {
            c,
            base: demo.url.clone(),
            shots: shots.clone(),
        };

        // A user signs in and goes through every page.
        p.sign_in("ursula", &user_password).await;
        p.check("fleet").await;
        let fleet = p.body().await;
        assert!(fleet.contains(">main</a>") && fleet.contains("primary"), "the demo's server");
        assert!(!fleet.contains("href=\"/console/admin\""), "no admin page for a user");
        p.click("table.fleet tbody a[href^='/console/servers/']").await;
        let server = p.path().await;
        assert!(server.starts_with("/console/servers/"), "{server}");
        p.check("server-1h").await;
        assert!(p.body().await.contains("<h3>Transactions and rollbacks</h3>"));
        // Times in the browser's zone, UTC kept on hover.
        let t = p.c.find(Locator::Css("p.summary time")).await.unwrap();
        assert!(t.attr("title").await.unwrap().unwrap().ends_with("UTC"));

        // Hover shows the values under the pointer.
        let hover = p
            .c
            .execute(
                "const svg = document.querySelector('#transactions svg');\
                 const r = svg.getBoundingClientRect();\
                 svg.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width * 0.9, clientY: r.top + r.height / 2, bubbles: true}));\
                 const tip = document.querySelector('#transactions .hover');\
                 return [tip.hidden, tip.textContent];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(hover[0], false, "{hover}");
        assert!(hover[1].as_str().unwrap().contains("commits:"), "{hover}");

        // The range: a preset link, then the custom form, then a drag across a chart.
        p.click(".picker a[href$='range=24h']").await;
        assert!(p.path().await.ends_with("range=24h"));
        p.check("server-24h").await;
        p.click(".picker a[href$='range=1y']").await;
        p.check("server-1y").await;
        assert!(p.body().await.contains("one point every 2 d"));
        let now = time::OffsetDateTime::now_utc();
        let fmt = |t: time::OffsetDateTime| {
            pganalytics_domain::console::range::rfc3339(t)
        };
        p.fill("#from", &fmt(now - time::Duration::minutes(30))).await;
        p.fill("#to", &fmt(now)).await;
        p.click("form.custom button[type=submit]").await;
        assert!(p.path().await.contains("from="), "{}", p.path().await);
        p.check("server-custom").await;
        let before = p.path().await;
        p.mark().await;
        p.c.execute(
            "const svg = document.querySelector('#transactions svg');\
             const r = svg.getBoundingClientRect();\
             const at = f => ({clientX: r.left + r.width * f, clientY: r.top + r.height / 2, bubbles: true});\
             svg.dispatchEvent(new MouseEvent('mousedown', at(0.3)));\
             svg.dispatchEvent(new MouseEvent('mousemove', at(0.7)));\
             svg.dispatchEvent(new MouseEvent('mouseup', at(0.7)));",
            vec![],
        )
        .await
        .unwrap();
        p.loaded("the zoom to navigate").await;
        assert_ne!(p.path().await, before);
        assert!(p.path().await.contains("from="), "zoomed: {}", p.path().await);
        p.check("server-zoomed").await;

        // Queries and tables.
        p.open(&format!("{server}/queries?range=1h")).await;
        p.check("queries").await;
        let queries = p.body().await;
        assert!(queries.contains("<table class=\"statements\">"), "the demo's statements");
        p.click("table.statements td.sql a").await;
        p.check("statement").await;
        assert!(p.body().await.contains("<h3>Calls per step</h3>"));
        p.open(&format!("{server}/tables")).await;
        p.check("tables").await;

        // Logs: search for the error, open it.
        p.open("/console/logs?range=1h").await;
        p.check("logs").await;
        p.fill("#q", "console_browser_missing_table").await;
        p.click("form.logfilters button[type=submit]").await;
        assert!(p.path().await.contains("q=console_browser_missing_table"));
        p.press("li.event summary").await;
        let event = p.text("li.event").await;
        assert!(event.contains("42P01") && event.contains("console_browser_missing_table"), "{event}");
        p.check("logs-search").await;

        // Alerts: acknowledge, then silence, as the user.
        p.open("/console/alerts").await;
        p.check("alerts").await;
        p.fill("ul.alerts li.alert form input[name=comment]", "looking at it").await;
        p.click("ul.alerts li.alert form button[type=submit]").await;
        assert_eq!(p.path().await, "/console/alerts");
        assert!(p.body().await.contains("Acknowledged by ursula"));
        p.press("details.silence summary").await;
        p.fill("details.silence input[name=comment]", "known, deploying").await;
        p.click("details.silence button[type=submit]").await;
        let silenced = p.body().await;
        assert!(silenced.contains("known, deploying"), "the silence is listed");
        p.check("alerts-acted").await;
        p.sign_out().await;
        p.check("signed-out").await;

        // A viewer is refused the admin page, whatever the URL.
        p.sign_in("victor", &viewer_password).await;
        p.open("/console/admin").await;
        assert!(p.text("p.error").await.contains("viewer role may not"));
        p.check_status("viewer-refused", 403).await;
        p.click("main a[href='/console/fleet']").await;
        p.sign_out().await;

        // The administrator: the admin page, a registration token with its command.
        p.sign_in("admin", ADMIN_PASSWORD).await;
        p.open("/console/admin").await;
        p.check("admin").await;
        p.click("form.inline button[type=submit]").await;
        assert!(p.body().await.contains("pganalytics-agent register --server"));
        p.check("registration-token").await;

        // Phone width: nothing wider than the screen but the tables' own scroll boxes.
        p.c.set_window_size(390, 844).await.unwrap();
        for (name, path) in [("phone-fleet", "/console/fleet".to_owned()), ("phone-server", server.clone())] {
            p.open(&path).await;
            let fits = p
                .c
                .execute("return document.documentElement.scrollWidth <= window.innerWidth + 1", vec![])
                .await
                .unwrap();
            assert_eq!(fits, true, "{name} fits a phone's width");
            p.check(name).await;
        }
        p.c.close().await.unwrap();
    });
    eprintln!("console screenshots: {}", shots.display());
}

/// Waits for an async condition, with a deadline.
async fn wait_async<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
