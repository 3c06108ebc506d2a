//! The web console: its pages over real requests (cookies, forms, headers), on both
//! backends, and in a real browser (`browser`).

mod browser;
mod pages;
mod security;

use crate::helpers::TestApp;
use ureq::http::HeaderMap;

/// A page as the server answered it.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the first hidden input named `name`.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&marker)? + marker.len();
        let end = self.body[at..].find('"')?;
        Some(self.body[at..at + end].to_owned())
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// A browser's side of the conversation without a browser: its cookie and the page's CSRF
/// token, requests sent the way a browser sends them (same `Origin`, form-encoded).
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

/// `name=value` of a `Set-Cookie` line named `name`.
pub fn cookie_value(page: &Page, name: &str) -> Option<String> {
    page.cookies()
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookie: None,
            csrf: None,
        }
    }

    /// Signs in through the form; panics unless it works.
    pub fn signed_in(app: &'a TestApp, user: &str, password: &str) -> Self {
        let mut b = Self::new(app);
        let r = b.sign_in(user, password);
        assert_eq!(r.status, 303, "sign-in: {}", r.body);
        let page = b.get("/console/fleet");
        assert_eq!(page.status, 200, "{}", page.body);
        b.csrf = page.field("csrf");
        assert!(
            b.csrf.is_some(),
            "the page carries the session's CSRF token"
        );
        b
    }

    /// The sign-in form, then its submission; keeps the session cookie it gets.
    pub fn sign_in(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/console/sign-in");
        assert_eq!(form.status, 200);
        let nonce = cookie_value(&form, "__Host-pga_signin").expect("the form's cookie");
        let r = self.send(
            "POST",
            "/console/sign-in",
            Some(&[
                ("username", user),
                ("password", password),
                ("nonce", &form.field("nonce").unwrap()),
                ("next", "/console/fleet"),
            ]),
            Some(&nonce),
            true,
        );
        if let Some(c) = cookie_value(&r, "__Host-pga_session") {
            self.cookie = Some(c);
        }
        r
    }

    pub fn get(&self, path: &str) -> Page {
        self.send("GET", path, None, None, false)
    }

    /// A form post with the session's CSRF token added.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut form = form.to_vec();
        let csrf = self.csrf.clone().unwrap_or_default();
        form.push(("csrf", &csrf));
        self.send("POST", path, Some(&form), None, true)
    }

    /// Any request: `form` url-encoded, `extra_cookie` beside the session's, the page's own
    /// `Origin` when `same_origin`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra_cookie: Option<&str>,
        same_origin: bool,
    ) -> Page {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.app.url(path));
        let cookies: Vec<&str> = self
            .cookie
            .as_deref()
            .into_iter()
            .chain(extra_cookie)
            .collect();
        if !cookies.is_empty() {
            req = req.header("Cookie", cookies.join("; "));
        }
        if same_origin {
            req = req.header("Origin", self.app.url(""));
        }
        let res = match form {
            Some(f) => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f)
                    .finish();
                self.app.client().run(
                    req.header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body.into_bytes())
                        .unwrap(),
                )
            }
            None => self.app.client().run(req.body(()).unwrap()),
        };
        let mut res = res.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        Page {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.body_mut().read_to_string().unwrap_or_default(),
        }
    }
}
