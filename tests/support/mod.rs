//! Helpers for the app's end-to-end tests: a headless Chromium driven over WebDriver, and
//! real photographs for the sample-photo folder.

#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver in its own process group; dropping this kills the whole group, so a failed
/// test never leaves a headless Chromium behind.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Start chromedriver and a headless Chromium with a fresh profile under `tmp`, at a
    /// phone-sized window (`width`×`height`). Keep `tmp` short: Chromium's sockets live under
    /// it and a Unix socket path cannot be longer than 107 bytes (Chromium just exits).
    pub async fn start(tmp: &Path, width: u32, height: u32) -> Browser {
        Self::launch(tmp, width, height, true).await
    }

    /// The same as a desktop browser (township staff at 1366×768): no phone emulation.
    pub async fn desktop(tmp: &Path, width: u32, height: u32) -> Browser {
        Self::launch(tmp, width, height, false).await
    }

    async fn launch(tmp: &Path, width: u32, height: u32, phone: bool) -> Browser {
        // fantoccini links aws-lc-rs and reqwest links ring: pick one explicitly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(tmp.join("chrome-tmp")).unwrap();
        let port = free_port();
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp.join("chrome-tmp"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver; scripts/setup.sh does)");
        let mut caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "goog:chromeOptions": {
                "binary": std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--lang=zh-CN", format!("--window-size={width},{height}"),
                         format!("--user-data-dir={}", tmp.join("profile").display())]
            }
        }))
        .unwrap();
        if phone {
            // Emulate the phone's viewport exactly (a headless window cannot be narrower than 500 px).
            caps["goog:chromeOptions"]["mobileEmulation"] =
                serde_json::json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true } });
        }
        let t = Instant::now();
        let client = loop {
            match ClientBuilder::rustls().unwrap().capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(c) => break c,
                Err(e) if t.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => {
                    let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", driver.id())]).status();
                    panic!("webdriver connect: {e}")
                }
            }
        };
        Browser { client, driver }
    }

    /// Wait until the element matching `css` contains `want`; returns its text.
    pub async fn wait_text(&self, css: &str, want: &str) -> String {
        self.wait_text_within(css, want, Duration::from_secs(15)).await
    }

    /// [`Self::wait_text`] for at most `limit`.
    pub async fn wait_text_within(&self, css: &str, want: &str, limit: Duration) -> String {
        let t = Instant::now();
        let mut last = String::new();
        while t.elapsed() < limit {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = e.text().await {
                    if text.contains(want) {
                        return text;
                    }
                    last = text;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {css:?} to contain {want:?}; last text: {last:?}");
    }

    /// Wait until the input `css` holds `want`.
    pub async fn wait_value(&self, css: &str, want: &str) {
        let t = Instant::now();
        let mut value = String::new();
        while t.elapsed() < Duration::from_secs(20) {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                value = e.prop("value").await.ok().flatten().unwrap_or_default();
                if value == want {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} holds {value:?}, not {want:?}");
    }

    /// Wait until `css` matches exactly `n` elements.
    pub async fn wait_count(&self, css: &str, n: usize) {
        let t = Instant::now();
        let mut got = 0;
        while t.elapsed() < Duration::from_secs(20) {
            got = self.client.find_all(Locator::Css(css)).await.map(|v| v.len()).unwrap_or(0);
            if got == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {n} × {css:?}; found {got}");
    }

    pub async fn click(&self, css: &str) {
        let t = Instant::now();
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => {
                    // Centre it, as a thumb would scroll it, so the fixed bottom bar never covers it.
                    let arg = serde_json::to_value(&e).unwrap();
                    let _ = self.client.execute("arguments[0].scrollIntoView({block: 'center'})", vec![arg]).await;
                    match e.click().await {
                        Ok(_) => return,
                        Err(err) if t.elapsed() > Duration::from_secs(10) => panic!("click {css}: {err}"),
                        Err(_) => {}
                    }
                }
                Err(err) if t.elapsed() > Duration::from_secs(10) => panic!("find {css}: {err}"),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Type `text` into a field, replacing what it held, and wait until the field holds it.
    /// WebDriver types at machine speed; over the liveview socket a re-render answering an
    /// earlier keystroke can arrive mid-word and set the controlled input back to what the
    /// server had then (a person typing is hundreds of times slower). So the value is checked
    /// and, if a keystroke was lost that way, typed again (at most three times).
    pub async fn type_into(&self, css: &str, text: &str) {
        let mut value = String::new();
        for _ in 0..3 {
            let e = self.client.wait().for_element(Locator::Css(css)).await.unwrap();
            e.clear().await.unwrap();
            e.send_keys(text).await.unwrap();
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(3) {
                value = e.prop("value").await.unwrap().unwrap_or_default();
                if value == text {
                    // and the server has it: nothing in flight will reset it now
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if e.prop("value").await.unwrap().unwrap_or_default() == text {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("{css} holds {value:?} after typing {text:?} three times");
    }

    pub async fn screenshot(&self, path: &Path) {
        std::fs::write(path, self.client.screenshot().await.unwrap()).unwrap();
    }

    /// Draw a signature on the delivery screen's pad with the pointer, as a finger would.
    pub async fn sign(&self) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let pad = self.client.find(Locator::Css("#sigpad")).await.unwrap();
        let arg = serde_json::to_value(&pad).unwrap();
        self.client.execute("arguments[0].scrollIntoView({block: 'center'})", vec![arg]).await.unwrap();
        let mut pen = MouseActions::new("pen".into())
            .then(PointerAction::MoveToElement { element: pad.clone(), duration: None, x: -120.0, y: 10.0 })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT });
        for i in 1..=12 {
            pen = pen.then(PointerAction::MoveToElement {
                element: pad.clone(),
                duration: Some(Duration::from_millis(20)),
                x: -120.0 + 20.0 * i as f64,
                y: if i % 2 == 0 { 30.0 } else { -20.0 },
            });
        }
        self.client.perform_actions(pen.then(PointerAction::Up { button: MOUSE_BUTTON_LEFT })).await.unwrap();
        self.wait_count("#sigpad path", 1).await;
    }
}

/// Real photographs (Debian wallpaper packages), smallest first, distinct files.
pub fn real_photos(n: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/usr/share/wallpapers")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jpg") && !p.ends_with("screenshot.jpg") {
                found.push((std::fs::metadata(&p).unwrap().len(), p));
            }
        }
    }
    found.sort();
    found.dedup_by_key(|(len, _)| *len);
    assert!(found.len() >= n, "need {n} real photos under /usr/share/wallpapers (scripts/setup.sh installs them)");
    found.into_iter().take(n).map(|(_, p)| p).collect()
}

/// The demo's sample documents (`scripts/sample-documents.py`, as `scripts/demo.sh` makes
/// them): rendered once per build directory and shared by the tests.
pub fn sample_documents() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sample-documents");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sample-documents.py");
    let status = std::process::Command::new(script).arg(&dir).status().expect("python3 and ImageMagick (scripts/setup.sh)");
    assert!(status.success(), "sample-documents.py failed");
    dir
}

/// Register a resident through the UI (from anywhere: starts at the home tab).
pub async fn register_resident(b: &Browser, name: &str, id_number: &str) {
    b.click("#tab-home").await;
    b.click("#new-resident").await;
    b.wait_text("header h1", "登记居民").await;
    b.type_into("#name", name).await;
    b.type_into("#id_number", id_number).await;
    b.type_into("#phone", "13800138000").await;
    b.type_into("#address", "王家村东街12号").await;
    b.click("#save-resident").await;
    b.wait_text("#resident-name", name).await;
}

/// On a capture screen, pick sample photo `file` for `material` and wait until it has `n` photos.
pub async fn add_sample_photo(b: &Browser, material: &str, file: &str, n: usize) {
    let select = b.client.find(Locator::Css(&format!("#add-{material}-sample"))).await.unwrap();
    select.select_by_value(file).await.unwrap();
    b.wait_count(&format!("#material-{material} .thumb"), n).await;
}

/// From a resident's page: apply for the elderly card with photos `photo-0.jpg`…`photo-4.jpg`
/// and submit. Ends on the application's page.
pub async fn apply_for_elderly_card(b: &Browser) {
    b.click("#apply-for-resident").await;
    b.click("li[data-code=elderly_card]").await;
    b.wait_text("#capture-title", "老年人优待证").await;
    b.wait_value("#f-phone", "13800138000").await; // filled in from the resident
    let mut k = 0;
    for (material, n) in [("id_card", 2), ("household_register", 2), ("photo_1inch", 1)] {
        for i in 0..n {
            add_sample_photo(b, material, &format!("photo-{k}.jpg"), i + 1).await;
            k += 1;
        }
    }
    b.click("#submit").await;
    b.wait_text("#app-title", "老年人优待证").await;
}

/// Copy `n` distinct real photographs into `dir` as photo-0.jpg … (the preview's samples).
pub fn sample_photos(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, p) in real_photos(n).iter().enumerate() {
        std::fs::copy(p, dir.join(format!("photo-{i}.jpg"))).unwrap();
    }
}
