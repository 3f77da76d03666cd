//! "Set up a real township" as the README says it, run by bash word for word (only the
//! server's `/srv/daiban` becomes a temp dir, and `serve` is left out), then checked through
//! the store: the township, its villages, two accounts whose printed passwords log in, the
//! catalogue published as version 1, and an enrolment code a phone can use. A villages file
//! with a wrong line is refused by line number and imports nothing.

use daiban_centre::store::{self, DatabaseUrl, Role, Rules, VillageCode};
use daiban_proto::sync::EnrolRequest;
use std::path::Path;
use std::process::{Command, Output};

const README: &str = include_str!("../../../../README.md");

/// The shell block under "## Set up a real township".
fn setup_block() -> String {
    let section = README.split("## Set up a real township").nth(1).expect("the README has the section");
    let start = section.find("```sh\n").expect("a sh block") + 6;
    section[start..start + section[start..].find("```").unwrap()].to_string()
}

fn bash(dir: &Path, script: &str) -> Output {
    let bin = env!("CARGO_BIN_EXE_daiban-centre");
    let script = format!("set -euo pipefail\ndaiban-centre() {{ \"{bin}\" \"$@\"; }}\n{script}");
    Command::new("bash").arg("-c").arg(script).current_dir(dir).output().unwrap()
}

#[tokio::test]
async fn the_readmes_township_setup_works_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let block = setup_block();
    let script: String = block
        .lines()
        .filter(|l| !l.starts_with("daiban-centre serve"))
        .map(|l| l.replace("/srv/daiban", &dir.display().to_string()) + "\n")
        .collect();
    assert!(script.contains("admin township") && script.contains("admin enrolment-code"), "{script}");
    let out = bash(dir, &script);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    let passwords: Vec<&str> = stdout.lines().filter_map(|l| l.split("(shown once): ").nth(1)).collect();
    assert_eq!(passwords.len(), 2, "{stdout}");
    let s = store::open(&DatabaseUrl::Sqlite(dir.join("centre.sqlite3")), Rules::default()).await.unwrap();
    let township = s.township_by_code("370611101").await.unwrap().expect("the township");
    assert_eq!(township.name.zh, "桃源镇");
    let villages = s.villages(township.id).await.unwrap();
    let mut names: Vec<&str> = villages.iter().map(|v| v.name.zh.as_str()).collect();
    names.sort();
    assert_eq!(names, ["李家庄", "河东村", "王家村"]);
    let admin = s.verify_staff_password("wang-zhenguan", passwords[0]).await.unwrap().expect("the printed password logs in");
    assert_eq!(admin.role, Role::TownshipAdmin);
    let reviewer = s.verify_staff_password("li-shenhe", passwords[1]).await.unwrap().expect("the printed password logs in");
    assert_eq!((reviewer.role, reviewer.township_id), (Role::Reviewer, township.id));
    let catalogue = s.catalogue(township.id, None).await.unwrap().expect("published");
    assert_eq!((catalogue.version, catalogue.township.zh.as_str()), (1, "桃源镇"));

    // The code printed for 王家村 enrols a phone there; the link carries the centre's address.
    let code = stdout.lines().find_map(|l| l.strip_prefix("设备注册码 / enrolment code: ")).unwrap().split(' ').next().unwrap();
    assert!(stdout.contains("daiban://enrol?centre=https%3A%2F%2Fdaiban.example.gov.cn&code="), "{stdout}");
    let enrolled = s.enrol(EnrolRequest { code: code.into(), device_name: "王家村代办员".into(), device_key: None }).await.unwrap();
    assert_eq!(enrolled.village_name.zh, "王家村");
    let phone = s.devices(township.id).await.unwrap().into_iter().find(|d| d.id == enrolled.device_id).unwrap();
    assert_eq!(phone.label(), "张代办 13900001111", "the code was issued to the agent: the phone is theirs");

    // Publishing an edited catalogue again makes the next version.
    let again = bash(
        dir,
        &format!("daiban-centre admin --database sqlite:{}/centre.sqlite3 catalogue --by wang-zhenguan catalogue.json", dir.display()),
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("第 2 版"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(s.catalogue(township.id, None).await.unwrap().unwrap().version, 2);

    // A villages file with one wrong line: named by line, and nothing of it imported.
    std::fs::write(dir.join("more.csv"), "370611101204,张家湾\n370611101205,\n370611101206,赵家沟\n").unwrap();
    let db = format!("sqlite:{}", dir.join("centre.sqlite3").display());
    let out = bash(dir, &format!("daiban-centre admin --database {db} villages --township 370611101000 more.csv"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(stderr.contains("第2行") && stderr.contains("村名不能为空") && stderr.contains("没有导入任何村"), "{stderr}");
    assert!(s.village_by_code(&VillageCode::parse("370611101204").unwrap()).await.unwrap().is_none(), "line 1 was not imported");
    assert_eq!(s.villages(township.id).await.unwrap().len(), 3);
    // Setting the township up again is harmless; another name under its code is refused.
    let again = bash(dir, &format!("daiban-centre admin --database {db} township --code 370611101000 --name 桃源镇"));
    assert!(again.status.success() && String::from_utf8_lossy(&again.stdout).contains("已存在"));
    let other = bash(dir, &format!("daiban-centre admin --database {db} township --code 370611101 --name 杏花镇"));
    assert!(!other.status.success() && String::from_utf8_lossy(&other.stderr).contains("已是“桃源镇”"));
}

/// `serve` on an empty database prints a one-time link; through it the township and its
/// first administrator are made (a wrong field first: nothing is made), and then the link is
/// spent.
#[tokio::test]
async fn a_new_centre_is_set_up_through_its_one_time_link() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let db = tmp.path().join("centre.sqlite3");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_daiban-centre"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--photos"])
        .arg(tmp.path().join("photos"))
        .arg("--database")
        .arg(format!("sqlite:{}", db.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // read on (and drain) in a thread: the centre must not write into a closed pipe
    let stdout = std::io::BufReader::new(serve.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(|l| l.ok()) {
            if let Some(rest) = line.trim().strip_prefix("http://") {
                let _ = tx.send(format!("http://{rest}"));
            }
        }
    });
    let link = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("serve prints the set-up link");
    assert!(link.starts_with(&format!("http://127.0.0.1:{port}/staff/setup?token=")), "{link}");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the centre answers");
    let login = http.get(format!("{base}/staff/login")).send().await.unwrap().text().await.unwrap();
    assert!(login.contains("还没有完成首次设置"), "{login}");
    let form = http.get(&link).send().await.unwrap();
    assert_eq!(form.status(), reqwest::StatusCode::OK);
    assert!(form.text().await.unwrap().contains("首次设置"));
    let wrong = http.get(format!("{base}/staff/setup?token={}", "0".repeat(64))).send().await.unwrap();
    assert_eq!(wrong.status(), reqwest::StatusCode::FORBIDDEN);

    let token = link.split("token=").nth(1).unwrap().to_string();
    let fields = |code: &str, again: &str| {
        vec![
            ("token", token.clone()),
            ("township_code", code.to_string()),
            ("township_name", "杏花镇".to_string()),
            ("township_name_en", String::new()),
            ("username", "xinghua-admin".to_string()),
            ("display_name", "赵镇管".to_string()),
            ("password", "xinghua-2026-setup".to_string()),
            ("password_again", again.to_string()),
        ]
    };
    let differ = http.post(format!("{base}/staff/setup")).form(&fields("370611102000", "something-else")).send().await.unwrap();
    assert_eq!(differ.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.text().await.unwrap().contains("两次输入的密码不一样"));
    let bad_code = http.post(format!("{base}/staff/setup")).form(&fields("3706111", "xinghua-2026-setup")).send().await.unwrap();
    assert_eq!(bad_code.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    let done = http.post(format!("{base}/staff/setup")).form(&fields("370611102000", "xinghua-2026-setup")).send().await.unwrap();
    assert_eq!(done.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/staff/login?setup=1");
    assert_eq!(http.get(&link).send().await.unwrap().status(), reqwest::StatusCode::NOT_FOUND, "the link is spent");
    let _ = serve.kill();
    let _ = serve.wait();

    let s = store::open(&DatabaseUrl::Sqlite(db), Rules::default()).await.unwrap();
    let townships = s.townships().await.unwrap();
    assert_eq!(townships.len(), 1, "the wrong tries made nothing: {townships:?}");
    assert_eq!((townships[0].code.as_str(), townships[0].name.zh.as_str()), ("370611102", "杏花镇"));
    let admin = s.verify_staff_password("xinghua-admin", "xinghua-2026-setup").await.unwrap().expect("the administrator logs in");
    assert_eq!((admin.role, admin.township_id), (Role::TownshipAdmin, townships[0].id));
}
