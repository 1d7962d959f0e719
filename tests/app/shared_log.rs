//! Two instances in one process on one PostgreSQL log (skipped without
//! `CW_TEST_POSTGRES`): what one instance commits reaches the other's
//! clients once and in order, a client can move between instances with
//! `since`, and a comment put on stream through one instance shows on the
//! overlay of the other.

use std::collections::HashSet;

use commentwatch::store::Batch;
use serde_json::{Value, json};

use crate::helpers::{self, Client, TestApp, seqs, spawn_app_with_db};

/// `GET url` as JSON.
async fn get_json(url: String) -> Value {
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}
use crate::log_page::comment;

/// Two instances on a fresh database, each with the demo source (only one
/// of them may poll it) posting no new comments after its backlog of 20.
async fn pair() -> Option<(TestApp, TestApp)> {
    pair_on().await.map(|(a, b, _)| (a, b))
}

/// [`pair`], and the database's URL.
async fn pair_on() -> Option<(TestApp, TestApp, String)> {
    let url = helpers::postgres_db().await?;
    let env = [("CW_DEMO_RATE", "0"), ("CW_POLL", "1s")];
    let a = spawn_app_with_db(&url, &env).await;
    let b = spawn_app_with_db(&url, &env).await;
    Some((a, b, url))
}

/// Ingests one comment through `app`.
async fn say(app: &TestApp, id: &str) {
    let src = "youtube:shared";
    app.feed
        .ingest(Batch {
            source: src.into(),
            comments: vec![comment(src, id, "Viewer", &format!("text of {id}"), 0)],
            ..Batch::default()
        })
        .await
        .unwrap();
}

/// A connection of the test's own to the database at `url`.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (db, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db
}

/// The server-side ids of this database's connections named `name`.
async fn backends(db: &tokio_postgres::Client, name: &str) -> Vec<i32> {
    db.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = $1 ORDER BY pid",
        &[&name],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Reads comment frames until `n` distinct seqs arrived; fails on a repeat.
async fn comments(client: &mut Client, n: usize) -> Vec<Value> {
    let frames = client.comments(n).await;
    let unique: HashSet<i64> = seqs(&frames).into_iter().collect();
    assert_eq!(
        unique.len(),
        frames.len(),
        "a seq twice: {:?}",
        seqs(&frames)
    );
    frames
}

#[tokio::test]
async fn what_one_instance_commits_reaches_the_clients_of_the_other_once_and_in_order() {
    let Some((a, b)) = pair().await else { return };
    let mut on_a = a.connect(Some(0)).await;
    let mut on_b = b.connect(Some(0)).await;
    // The demo's backlog, polled by whichever instance took its lock.
    let backlog_a = comments(&mut on_a, 20).await;
    let backlog_b = comments(&mut on_b, 20).await;
    assert_eq!(seqs(&backlog_a), (1..=20).collect::<Vec<_>>());
    assert_eq!(seqs(&backlog_a), seqs(&backlog_b));
    // Writes through both instances interleave into one feed.
    let src = "youtube:shared";
    for (i, app) in [&a, &b, &a, &b].into_iter().enumerate() {
        let c = comment(
            src,
            &format!("x{i}"),
            "Viewer",
            &format!("hello {i}"),
            i as i64,
        );
        app.feed
            .ingest(Batch {
                source: src.into(),
                comments: vec![c],
                ..Batch::default()
            })
            .await
            .unwrap();
    }
    for client in [&mut on_a, &mut on_b] {
        let live = comments(client, 4).await;
        assert_eq!(seqs(&live), [21, 22, 23, 24]);
        let ids: Vec<&str> = live
            .iter()
            .map(|f| f["comment"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["x0", "x1", "x2", "x3"]);
    }
    // A client of A moves to B and resumes after the last seq it saw.
    on_a.close().await;
    let mut moved = b.connect(Some(22)).await;
    assert_eq!(seqs(&comments(&mut moved, 2).await), [23, 24]);
    // Nothing after 24: within a moment, only status frames (if any).
    let quiet = tokio::time::Instant::now() + std::time::Duration::from_millis(300);
    while let Ok(Some(frame)) = moved
        .next_frame_within(quiet.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        assert_ne!(frame["type"], "comment", "nothing after 24: {frame}");
    }
}

#[tokio::test]
async fn a_comment_featured_through_one_instance_shows_on_the_overlay_of_the_other() {
    let Some((a, b)) = pair().await else { return };
    let mut on_a = a.connect(Some(0)).await;
    let backlog = comments(&mut on_a, 20).await;
    let (mut overlay, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/overlay/ws?mode=featured", b.addr))
            .await
            .expect("the overlay feed opens");
    let next_featured = async |overlay: &mut tokio_tungstenite::WebSocketStream<_>| loop {
        use futures_util::StreamExt;
        let msg = tokio::time::timeout(helpers::PATIENCE, overlay.next())
            .await
            .expect("a frame in time")
            .expect("the socket stays open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "featured" {
                return v;
            }
        }
    };
    assert_eq!(next_featured(&mut overlay).await["comments"], json!([]));
    let pick = &backlog[7]["comment"];
    let resp = reqwest::Client::new()
        .post(format!("http://{}/api/featured", a.addr))
        .header("Content-Type", "application/json")
        .body(json!({ "source": pick["source"], "id": pick["id"] }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let shown = next_featured(&mut overlay).await;
    assert_eq!(shown["comments"][0]["id"], pick["id"], "{shown}");
    assert_eq!(shown["comments"][0]["html"], pick["html"]);
    // Taken off stream through B: A's queue empties too.
    let resp = reqwest::Client::new()
        .delete(format!("http://{}/api/featured", b.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(next_featured(&mut overlay).await["comments"], json!([]));
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    loop {
        let queue: Value = get_json(format!("http://{}/api/featured", a.addr)).await;
        if queue["comments"] == json!([]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "A still shows {queue}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn healthz_names_the_database_and_every_instance_shows_the_pollers_status() {
    let Some((a, b)) = pair().await else { return };
    let health: Value = get_json(a.url("/healthz")).await;
    assert_eq!(health["database"], "postgres");
    assert_eq!(health["log"], "ok");
    // Both instances tick every second; exactly one polls the demo.
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    loop {
        let mut polled = Vec::new();
        for app in [&a, &b] {
            let text = reqwest::get(app.url("/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            polled.push(
                text.lines()
                    .find(|l| l.starts_with("commentwatch_source_polled_here{source=\"demo\"}"))
                    .map(|l| l.ends_with(" 1")),
            );
        }
        if polled.iter().all(Option::is_some) {
            let here = polled.iter().filter(|p| **p == Some(true)).count();
            assert_eq!(here, 1, "{polled:?}");
            // The other instance shows the state its poller reported.
            let standby = if polled[0] == Some(true) { &b } else { &a };
            loop {
                let health = get_json(standby.url("/healthz")).await;
                if health["sources"][0]["state"] == "ok" {
                    assert!(health["sources"][0]["last_ok"].is_string(), "{health}");
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "{health}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{polled:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_lost_listen_connection_is_opened_again_and_nothing_committed_meanwhile_is_missed() {
    let Some((a, b, url)) = pair_on().await else {
        return;
    };
    let db = connect(&url).await;
    let mut on_b = b.connect(Some(0)).await;
    comments(&mut on_b, 20).await;
    // Each instance listens on a connection of its own, once it has started.
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    let before = loop {
        let now = backends(&db, "commentwatch-listen").await;
        if now.len() == 2 {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "listening: {now:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // Cut both instances' LISTEN connections, and commit while they are gone.
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'commentwatch-listen'",
        &[],
    )
    .await
    .unwrap();
    for id in ["gap1", "gap2", "gap3"] {
        say(&a, id).await;
    }
    // Both listen again, on new connections.
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    loop {
        let now = backends(&db, "commentwatch-listen").await;
        if now.len() == 2 && now.iter().all(|p| !before.contains(p)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still listening on {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    say(&a, "after").await;
    let live = comments(&mut on_b, 4).await;
    assert_eq!(seqs(&live), [21, 22, 23, 24]);
    let ids: Vec<&str> = live
        .iter()
        .map(|f| f["comment"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gap1", "gap2", "gap3", "after"]);
}

#[tokio::test]
async fn a_lost_lock_connection_frees_the_lock_and_afterwards_exactly_one_instance_polls() {
    let Some((a, b, url)) = pair_on().await else {
        return;
    };
    let db = connect(&url).await;
    let polled_here = async |app: &TestApp| {
        let text = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("commentwatch_source_polled_here{source=\"demo\"}"))
            .map(|l| l.ends_with(" 1"))
    };
    // Wait until both instances have ticked and one of them polls.
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    let holder = loop {
        match (polled_here(&a).await, polled_here(&b).await) {
            (Some(true), Some(false)) => break 0,
            (Some(false), Some(true)) => break 1,
            other => assert!(tokio::time::Instant::now() < deadline, "{other:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let locks = backends(&db, "commentwatch-locks").await;
    assert_eq!(locks.len(), 2);
    // Ending every lock connection frees the lock; whichever instance asks
    // first holds it afterwards, and never both.
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'commentwatch-locks'",
        &[],
    )
    .await
    .unwrap();
    loop {
        let now = backends(&db, "commentwatch-locks").await;
        let state = (polled_here(&a).await, polled_here(&b).await);
        if now.len() == 2
            && now.iter().all(|p| !locks.contains(p))
            && let (Some(x), Some(y)) = state
            && x != y
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{now:?} {state:?} (holder was {holder})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The lock is really held: one advisory lock, by a lock connection.
    let held: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() \
             AND a.application_name = 'commentwatch-locks'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, 1);
}

/// Which of `sources` each instance polls, by `/metrics`; `None` until every
/// instance has ticked for every source.
async fn polled_by(apps: &[&TestApp], sources: &[&str]) -> Option<Vec<Vec<bool>>> {
    let mut all = Vec::new();
    for app in apps {
        let text = reqwest::get(app.url("/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let mut mine = Vec::new();
        for source in sources {
            let prefix = format!("commentwatch_source_polled_here{{source=\"{source}\"}} ");
            let line = text.lines().find_map(|l| l.strip_prefix(&prefix))?;
            mine.push(line.trim() == "1");
        }
        all.push(mine);
    }
    Some(all)
}

#[tokio::test]
async fn an_instance_that_polls_every_source_hands_half_of_them_to_one_that_joins() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let Some(url) = helpers::postgres_db().await else {
        return;
    };
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "items": [] })))
        .mount(&api)
        .await;
    let names = ["ga", "gb", "gc", "gd"];
    let sources: Vec<String> = names.iter().map(|n| format!("generic:{n}")).collect();
    let mut vars: Vec<(String, String)> = vec![
        ("CW_SOURCES".into(), sources.join(",")),
        ("CW_POLL".into(), "1s".into()),
    ];
    for n in names {
        let prefix = format!("CW_GENERIC_{}_", n.to_uppercase());
        for (k, v) in [
            ("URL", api.uri()),
            ("ITEMS", "/items".into()),
            ("ID", "/id".into()),
            ("AUTHOR", "/a".into()),
            ("TEXT", "/t".into()),
        ] {
            vars.push((format!("{prefix}{k}"), v));
        }
    }
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    let a = spawn_app_with_db(&url, &env).await;
    // Alone, A polls all four.
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    while polled_by(&[&a], &sources).await != Some(vec![vec![true; 4]]) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "A never polled all four"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // B joins: they end up with two each, every source polled by one.
    let b = spawn_app_with_db(&url, &env).await;
    loop {
        if let Some(split) = polled_by(&[&a, &b], &sources).await {
            let each: Vec<usize> = split
                .iter()
                .map(|m| m.iter().filter(|h| **h).count())
                .collect();
            let once = (0..4).all(|i| split[0][i] != split[1][i]);
            if each == [2, 2] && once {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{split:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_instance_that_stops_lets_go_of_its_sources_and_connections() {
    let Some((a, b, url)) = pair_on().await else {
        return;
    };
    let db = connect(&url).await;
    let deadline = tokio::time::Instant::now() + helpers::PATIENCE;
    let split = loop {
        if let Some(split) = polled_by(&[&a, &b], &["demo"]).await
            && split[0][0] != split[1][0]
        {
            break split;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nobody polls the demo"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let (holder, other) = if split[0][0] { (a, b) } else { (b, a) };
    holder.stop().await;
    // Its lock connection is gone as it stops, not when the process ends.
    assert_eq!(backends(&db, "commentwatch-locks").await.len(), 1);
    loop {
        if polled_by(&[&other], &["demo"]).await == Some(vec![vec![true]]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo was not taken over"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
