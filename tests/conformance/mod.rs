//! The storage conformance suite: written once, run against every [`Store`]
//! (`MemoryStore` natively in `tests/store_memory.rs`, `IdbStore` in headless Chromium in
//! `tests/store_idb.rs`). Each case gets a fresh, empty store.

#![allow(dead_code)]

use lightprompt::prompt::optimize::{AppliedEdit, Decision};
use lightprompt::prompt::{Category, Facet};
use lightprompt::span::{Reward, RewardSource, Span, TrainingSpan};
use lightprompt::store::{Dataset, PolicySnapshot, Query, SpanCursor, Store};
use lightprompt::ErrorCode;

/// Calls `$m!(case)` for every case of the suite.
#[macro_export]
macro_rules! for_each_conformance_case {
    ($m:ident) => {
        $m!(spans_round_trip_every_field);
        $m!(batch_with_a_stored_id_writes_nothing);
        $m!(batch_repeating_an_id_writes_nothing);
        $m!(reward_needs_its_span_and_a_new_id);
        $m!(listings_are_newest_first_and_page);
        $m!(queries_filter_by_category_task_and_span);
        $m!(full_reads_are_oldest_first);
        $m!(rewards_since_a_time);
        $m!(counts_by_category);
        $m!(policy_snapshots_by_version);
        $m!(meta_settings);
        $m!(spans_by_id_keep_order_and_skip_missing);
        $m!(import_merge_keeps_existing_records);
        $m!(import_replace_drops_old_records);
        $m!(failed_import_changes_nothing);
        $m!(import_staged_in_chunks_commits_once);
        $m!(spans_after_pages_through_every_span_once);
        $m!(spans_by_task_after_in_task_order);
        $m!(clear_removes_records_but_keeps_settings);
        $m!(large_batch_in_one_write);
        $m!(any_text_round_trips);
    };
}

/// A span id from a number.
pub fn sid(n: u64) -> String {
    format!("{n:016x}")
}

/// A task id from a number.
pub fn tid(n: u64) -> String {
    format!("{n:032x}")
}

/// A span with realistic content.
pub fn span(n: u64, category: Category, created_at: f64) -> Span {
    Span {
        span_id: sid(n),
        task_id: tid(n / 2),
        name: Span::name_for(category),
        category,
        model: match category {
            Category::Image => "midjourney-v7",
            Category::Video => "veo",
            Category::Text => "claude",
        }
        .to_string(),
        requested_model: Some("mj".to_string()),
        original_prompt: format!("a lighthouse on a cliff #{n}"),
        optimized_prompt: format!(
            "a lighthouse on a cliff #{n}, golden hour lighting --ar 16:9 --v 7"
        ),
        negative_prompt: None,
        parameters: [("ar".to_string(), serde_json::json!("16:9"))]
            .into_iter()
            .collect(),
        original_quality_score: 31.5,
        quality_score: 62.25,
        edits: vec![AppliedEdit {
            id: "image.lighting.golden-hour".to_string(),
            facet: Facet::Lighting,
            text: "golden hour lighting".to_string(),
            learned: false,
            propensity: 0.72,
        }],
        decisions: vec![Decision {
            slot: "lighting".to_string(),
            action: "image.lighting.golden-hour".to_string(),
            propensity: 0.72,
            learned: false,
            eligible: 9,
            offered: Vec::new(),
        }],
        keywords: vec!["golden hour".to_string()],
        policy_version: 3,
        created_at,
        duration_ms: 0.25,
        sequence: Some(n * 2),
        options: Default::default(),
        metadata: [("source".to_string(), serde_json::json!("conformance"))]
            .into_iter()
            .collect(),
    }
}

/// A reward on span `span_n`.
pub fn reward(n: u64, span_n: u64, category: Category, value: f64, created_at: f64) -> Reward {
    Reward {
        reward_id: sid(1_000_000 + n),
        span_id: sid(span_n),
        task_id: tid(span_n / 2),
        category,
        model: "midjourney-v7".to_string(),
        value,
        source: RewardSource::Computed,
        quality_score: 62.25,
        rating: Some(4.0),
        satisfied: Some(true),
        used_result: None,
        feedback_text: Some("좋아요 <b>nice</b>".to_string()),
        metadata: Default::default(),
        created_at,
        sequence: Some(n * 2 + 1),
    }
}

fn q(limit: usize, offset: usize) -> Query {
    Query {
        limit,
        offset,
        ..Query::default()
    }
}

fn ids(spans: &[Span]) -> Vec<String> {
    spans.iter().map(|s| s.span_id.clone()).collect()
}

async fn counts<S: Store>(store: &S) -> (u64, u64) {
    (
        store.count_spans(None).await.unwrap(),
        store.count_rewards().await.unwrap(),
    )
}

pub async fn spans_round_trip_every_field<S: Store>(store: S) {
    let s = span(1, Category::Image, 1000.0);
    store.add_spans(std::slice::from_ref(&s)).await.unwrap();
    assert_eq!(store.span(&s.span_id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.span(&sid(2)).await.unwrap(), None);
    let r = reward(1, 1, Category::Image, 0.5, 1001.0);
    store.add_reward(&r).await.unwrap();
    assert_eq!(store.all_rewards().await.unwrap(), vec![r]);
}

pub async fn batch_with_a_stored_id_writes_nothing<S: Store>(store: S) {
    store
        .add_spans(&[span(1, Category::Image, 1.0)])
        .await
        .unwrap();
    let batch = vec![
        span(2, Category::Image, 2.0),
        span(1, Category::Video, 3.0),
        span(3, Category::Text, 4.0),
    ];
    let e = store.add_spans(&batch).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Duplicate);
    assert_eq!(counts(&store).await, (1, 0));
    assert_eq!(store.span(&sid(2)).await.unwrap(), None);
    assert_eq!(
        store.span(&sid(1)).await.unwrap().unwrap().category,
        Category::Image
    );
}

pub async fn batch_repeating_an_id_writes_nothing<S: Store>(store: S) {
    let batch = vec![
        span(5, Category::Image, 1.0),
        span(6, Category::Image, 2.0),
        span(5, Category::Image, 3.0),
    ];
    assert_eq!(
        store.add_spans(&batch).await.unwrap_err().code,
        ErrorCode::Duplicate
    );
    assert_eq!(counts(&store).await, (0, 0));
}

pub async fn reward_needs_its_span_and_a_new_id<S: Store>(store: S) {
    let e = store
        .add_reward(&reward(1, 9, Category::Image, 0.1, 5.0))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    store
        .add_spans(&[span(9, Category::Image, 1.0)])
        .await
        .unwrap();
    store
        .add_reward(&reward(1, 9, Category::Image, 0.1, 5.0))
        .await
        .unwrap();
    let e = store
        .add_reward(&reward(1, 9, Category::Image, 0.9, 6.0))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Duplicate);
    // A second reward on the same span is kept.
    store
        .add_reward(&reward(2, 9, Category::Image, 0.9, 6.0))
        .await
        .unwrap();
    assert_eq!(counts(&store).await, (1, 2));
    let all = store.all_rewards().await.unwrap();
    assert_eq!(all[0].value, 0.1);
}

pub async fn listings_are_newest_first_and_page<S: Store>(store: S) {
    let batch: Vec<Span> = (0..25)
        .map(|n| span(n, Category::Image, 100.0 + (n % 10) as f64))
        .collect();
    store.add_spans(&batch).await.unwrap();
    let all = store.spans(&q(100, 0)).await.unwrap();
    assert_eq!(all.len(), 25);
    for w in all.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            a.created_at > b.created_at || (a.created_at == b.created_at && a.span_id > b.span_id),
            "order"
        );
    }
    let page1 = store.spans(&q(10, 0)).await.unwrap();
    let page2 = store.spans(&q(10, 10)).await.unwrap();
    let page3 = store.spans(&q(10, 20)).await.unwrap();
    assert_eq!((page1.len(), page2.len(), page3.len()), (10, 10, 5));
    let joined: Vec<String> = [page1, page2, page3]
        .concat()
        .iter()
        .map(|s| s.span_id.clone())
        .collect();
    assert_eq!(joined, ids(&all));
    assert!(store.spans(&q(10, 25)).await.unwrap().is_empty());
    assert!(store.spans(&q(0, 0)).await.unwrap().is_empty());
    for n in 0..5 {
        store
            .add_reward(&reward(
                n,
                n,
                Category::Image,
                0.1 * n as f64,
                200.0 + n as f64,
            ))
            .await
            .unwrap();
    }
    let rewards = store.rewards(&q(2, 1)).await.unwrap();
    assert_eq!(
        rewards.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        vec![203.0, 202.0]
    );
}

pub async fn queries_filter_by_category_task_and_span<S: Store>(store: S) {
    let batch: Vec<Span> = (0..12)
        .map(|n| span(n, Category::ALL[(n % 3) as usize], n as f64))
        .collect();
    store.add_spans(&batch).await.unwrap();
    let video = store
        .spans(&Query {
            category: Some(Category::Video),
            limit: 100,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(video.len(), 4);
    assert!(video.iter().all(|s| s.category == Category::Video));
    let page = store
        .spans(&Query {
            category: Some(Category::Video),
            limit: 2,
            offset: 1,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page), ids(&video[1..3]));
    let task = store
        .spans(&Query {
            task_id: Some(tid(3)),
            limit: 100,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&task), vec![sid(7), sid(6)]);
    store
        .add_reward(&reward(1, 4, Category::Video, 0.2, 50.0))
        .await
        .unwrap();
    store
        .add_reward(&reward(2, 5, Category::Text, 0.3, 51.0))
        .await
        .unwrap();
    store
        .add_reward(&reward(3, 4, Category::Video, 0.4, 52.0))
        .await
        .unwrap();
    let of4 = store
        .rewards(&Query {
            span_id: Some(sid(4)),
            limit: 100,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(
        of4.iter().map(|r| r.value).collect::<Vec<_>>(),
        vec![0.4, 0.2]
    );
    let text = store
        .rewards(&Query {
            category: Some(Category::Text),
            limit: 100,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(text.len(), 1);
}

pub async fn full_reads_are_oldest_first<S: Store>(store: S) {
    let batch: Vec<Span> = [5.0, 1.0, 3.0]
        .iter()
        .enumerate()
        .map(|(i, t)| span(i as u64, Category::Image, *t))
        .collect();
    store.add_spans(&batch).await.unwrap();
    let all = store.all_spans().await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.created_at).collect::<Vec<_>>(),
        vec![1.0, 3.0, 5.0]
    );
    store
        .add_reward(&reward(1, 0, Category::Image, 0.0, 9.0))
        .await
        .unwrap();
    store
        .add_reward(&reward(2, 1, Category::Image, 0.0, 7.0))
        .await
        .unwrap();
    let all = store.all_rewards().await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        vec![7.0, 9.0]
    );
}

pub async fn rewards_since_a_time<S: Store>(store: S) {
    store
        .add_spans(&[span(1, Category::Image, 1.0)])
        .await
        .unwrap();
    for n in 0..6 {
        store
            .add_reward(&reward(n, 1, Category::Image, 0.0, 10.0 * n as f64))
            .await
            .unwrap();
    }
    let since = store.rewards_since(30.0).await.unwrap();
    assert_eq!(
        since.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        vec![30.0, 40.0, 50.0]
    );
    assert!(store.rewards_since(51.0).await.unwrap().is_empty());
}

pub async fn counts_by_category<S: Store>(store: S) {
    let batch: Vec<Span> = (0..10)
        .map(|n| {
            span(
                n,
                if n < 7 {
                    Category::Image
                } else {
                    Category::Text
                },
                n as f64,
            )
        })
        .collect();
    store.add_spans(&batch).await.unwrap();
    assert_eq!(store.count_spans(None).await.unwrap(), 10);
    assert_eq!(store.count_spans(Some(Category::Image)).await.unwrap(), 7);
    assert_eq!(store.count_spans(Some(Category::Video)).await.unwrap(), 0);
    assert_eq!(store.count_spans(Some(Category::Text)).await.unwrap(), 3);
    assert_eq!(store.count_rewards().await.unwrap(), 0);
}

pub async fn policy_snapshots_by_version<S: Store>(store: S) {
    assert_eq!(store.latest_policy().await.unwrap(), None);
    let snap = |version: u32, x: f64| PolicySnapshot {
        version,
        created_at: 100.0 * version as f64,
        spans_used: 10,
        rewards_used: 4,
        state: serde_json::json!({ "x": x, "arms": { "g|lighting.golden-hour": { "w": 1.5 } } }),
    };
    store.put_policy(&snap(2, 0.5)).await.unwrap();
    store.put_policy(&snap(1, 0.25)).await.unwrap();
    store.put_policy(&snap(3, 0.75)).await.unwrap();
    store.put_policy(&snap(3, 0.8)).await.unwrap(); // same version: replaced
    assert_eq!(store.latest_policy().await.unwrap(), Some(snap(3, 0.8)));
    let versions: Vec<u32> = store
        .all_policies()
        .await
        .unwrap()
        .iter()
        .map(|p| p.version)
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
}

pub async fn meta_settings<S: Store>(store: S) {
    assert_eq!(store.meta("sentinel").await.unwrap(), None);
    store
        .put_meta("sentinel", &serde_json::json!({ "createdAt": 5 }))
        .await
        .unwrap();
    store
        .put_meta("sentinel", &serde_json::json!({ "createdAt": 6 }))
        .await
        .unwrap();
    assert_eq!(
        store.meta("sentinel").await.unwrap(),
        Some(serde_json::json!({ "createdAt": 6 }))
    );
}

pub async fn spans_by_id_keep_order_and_skip_missing<S: Store>(store: S) {
    let batch: Vec<Span> = (0..5).map(|n| span(n, Category::Image, n as f64)).collect();
    store.add_spans(&batch).await.unwrap();
    let got = store
        .spans_by_id(&[sid(3), sid(99), sid(0), sid(3)])
        .await
        .unwrap();
    assert_eq!(ids(&got), vec![sid(3), sid(0), sid(3)]);
    assert!(store.spans_by_id(&[]).await.unwrap().is_empty());
    // The learning fields of the same spans, in the same order; more ids than one chunk of
    // reads in flight, scattered among spans never asked for.
    let many: Vec<Span> = (10..3010)
        .map(|n| span(n, Category::Text, n as f64))
        .collect();
    store.add_spans(&many).await.unwrap();
    let asked: Vec<String> = (10..3010)
        .rev()
        .step_by(2)
        .map(sid)
        .chain([sid(7_000)])
        .collect();
    let learning = store.training_spans_by_id(&asked).await.unwrap();
    assert_eq!(learning.len(), 1500);
    for (got, id) in learning.iter().zip(&asked) {
        assert_eq!(&got.span_id, id);
        let n = u64::from_str_radix(id, 16).unwrap();
        assert_eq!(got, &TrainingSpan::from(&many[(n - 10) as usize]));
    }
}

fn dataset(from: u64, to: u64) -> Dataset {
    Dataset {
        spans: (from..to)
            .map(|n| span(n, Category::Video, n as f64))
            .collect(),
        rewards: (from..to)
            .map(|n| reward(n, n, Category::Video, 0.5, 100.0 + n as f64))
            .collect(),
        policies: vec![PolicySnapshot {
            version: to as u32,
            created_at: 1.0,
            spans_used: to - from,
            rewards_used: to - from,
            state: serde_json::json!({}),
        }],
    }
}

pub async fn import_merge_keeps_existing_records<S: Store>(store: S) {
    let mut existing = span(2, Category::Image, 2.0);
    existing.original_prompt = "kept as it was".to_string();
    store.add_spans(&[existing.clone()]).await.unwrap();
    let report = store.import(&dataset(0, 5), false).await.unwrap();
    assert_eq!((report.spans_added, report.spans_skipped), (4, 1));
    assert_eq!((report.rewards_added, report.rewards_skipped), (5, 0));
    assert_eq!(report.policies_added, 1);
    assert_eq!(store.span(&sid(2)).await.unwrap(), Some(existing));
    assert_eq!(counts(&store).await, (5, 5));
}

pub async fn import_replace_drops_old_records<S: Store>(store: S) {
    store
        .add_spans(&[span(50, Category::Image, 2.0)])
        .await
        .unwrap();
    store
        .add_reward(&reward(50, 50, Category::Image, 0.1, 3.0))
        .await
        .unwrap();
    store
        .put_meta("sentinel", &serde_json::json!(1))
        .await
        .unwrap();
    let data = dataset(0, 3);
    store.import(&data, true).await.unwrap();
    assert_eq!(store.all_spans().await.unwrap(), data.spans);
    assert_eq!(store.all_rewards().await.unwrap(), data.rewards);
    assert_eq!(store.all_policies().await.unwrap(), data.policies);
    assert_eq!(
        store.meta("sentinel").await.unwrap(),
        Some(serde_json::json!(1))
    );
}

pub async fn failed_import_changes_nothing<S: Store>(store: S) {
    store
        .add_spans(&[span(70, Category::Image, 2.0)])
        .await
        .unwrap();
    let mut data = dataset(0, 4);
    data.rewards
        .push(reward(77, 12345, Category::Video, 0.5, 1.0)); // span missing
    for replace in [false, true] {
        assert!(store.import(&data, replace).await.is_err());
        assert_eq!(counts(&store).await, (1, 0));
        assert_eq!(ids(&store.all_spans().await.unwrap()), vec![sid(70)]);
        assert!(store.all_policies().await.unwrap().is_empty());
    }
}

pub async fn import_staged_in_chunks_commits_once<S: Store>(store: S) {
    store
        .add_spans(&[span(3, Category::Image, 3.0)])
        .await
        .unwrap();
    let data = dataset(0, 9);
    let stage_all = |data: &Dataset| {
        let mut staging = S::Staging::default();
        // Spans in chunks of 4, then the rewards whose spans came in earlier chunks.
        for chunk in data.spans.chunks(4) {
            let part = Dataset {
                spans: chunk.to_vec(),
                ..Dataset::default()
            };
            store.stage(&mut staging, part).unwrap();
        }
        let rest = Dataset {
            spans: Vec::new(),
            ..data.clone()
        };
        store.stage(&mut staging, rest).unwrap();
        staging
    };
    // Staged records are invisible until the commit, and a failed commit writes none.
    let mut bad = data.clone();
    bad.rewards.push(reward(99, 4242, Category::Text, 0.5, 1.0));
    let staging = stage_all(&bad);
    assert_eq!(counts(&store).await, (1, 0));
    assert!(store.commit_import(staging, false).await.is_err());
    assert_eq!(counts(&store).await, (1, 0));
    let report = store.commit_import(stage_all(&data), false).await.unwrap();
    assert_eq!((report.spans_added, report.spans_skipped), (8, 1));
    assert_eq!(report.rewards_added, 9);
    assert_eq!(counts(&store).await, (9, 9));
    let report = store.commit_import(stage_all(&data), true).await.unwrap();
    assert_eq!((report.spans_added, report.rewards_added), (9, 9));
    assert_eq!(store.all_spans().await.unwrap(), data.spans);
}

pub async fn spans_after_pages_through_every_span_once<S: Store>(store: S) {
    // Several spans share each time, so a page can end inside a tie.
    let spans: Vec<Span> = (0..23u64)
        .map(|n| span(100 - n, Category::ALL[(n % 3) as usize], (n / 5) as f64))
        .collect();
    store.add_spans(&spans).await.unwrap();
    let all = store.all_spans().await.unwrap();
    for limit in [1, 2, 4, 5, 7, 23, 50] {
        let mut got = Vec::new();
        let mut after: Option<SpanCursor> = None;
        loop {
            let page = store.spans_after(after.as_ref(), limit).await.unwrap();
            assert!(page.len() <= limit);
            let last = page.len() < limit;
            after = page.last().map(SpanCursor::after).or(after);
            got.extend(page);
            if last {
                break;
            }
        }
        assert_eq!(ids(&got), ids(&all), "limit {limit}");
        assert_eq!(got, all);
    }
    let tail = store
        .spans_after(Some(&SpanCursor::after(&all[20])), 10)
        .await
        .unwrap();
    assert_eq!(ids(&tail), ids(&all[21..]));
}

pub async fn spans_by_task_after_in_task_order<S: Store>(store: S) {
    // span(n) belongs to task n / 2; ids and times chosen so that neither orders by task.
    let spans: Vec<Span> = (0..17u64)
        .map(|n| span(n * 5 % 17, Category::ALL[(n % 3) as usize], (17 - n) as f64))
        .collect();
    store.add_spans(&spans).await.unwrap();
    let mut by_task = store.all_spans().await.unwrap();
    by_task.sort_by(|a, b| (&a.task_id, &a.span_id).cmp(&(&b.task_id, &b.span_id)));
    assert_eq!(store.spans_by_task_after(None, 100).await.unwrap(), by_task);
    for limit in [1, 3, 17] {
        for after in [None, Some(tid(0)), Some(tid(3)), Some(tid(8))] {
            let expected: Vec<Span> = by_task
                .iter()
                .filter(|s| after.as_ref().is_none_or(|t| &s.task_id > t))
                .take(limit)
                .cloned()
                .collect();
            let got = store
                .spans_by_task_after(after.as_deref(), limit)
                .await
                .unwrap();
            assert_eq!(ids(&got), ids(&expected), "after {after:?}, limit {limit}");
        }
    }
}

pub async fn clear_removes_records_but_keeps_settings<S: Store>(store: S) {
    store.import(&dataset(0, 4), false).await.unwrap();
    store
        .put_meta("theme", &serde_json::json!("dark"))
        .await
        .unwrap();
    store.clear().await.unwrap();
    assert_eq!(counts(&store).await, (0, 0));
    assert_eq!(store.latest_policy().await.unwrap(), None);
    assert_eq!(
        store.meta("theme").await.unwrap(),
        Some(serde_json::json!("dark"))
    );
    // Still usable.
    store
        .add_spans(&[span(1, Category::Text, 1.0)])
        .await
        .unwrap();
    assert_eq!(counts(&store).await, (1, 0));
}

pub async fn large_batch_in_one_write<S: Store>(store: S) {
    let batch: Vec<Span> = (0..2000)
        .map(|n| span(n, Category::ALL[(n % 3) as usize], n as f64))
        .collect();
    store.add_spans(&batch).await.unwrap();
    assert_eq!(store.count_spans(None).await.unwrap(), 2000);
    assert_eq!(store.all_spans().await.unwrap(), batch);
}

pub async fn any_text_round_trips<S: Store>(store: S) {
    let texts = [
        "노을 지는 바다, 부드러운 조명 🌅",
        "<img src=x onerror=alert(1)> \"quotes\" & 'apostrophes'",
        "line\nbreaks\tand tabs",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — ✨ 日本語 العربية",
    ];
    let batch: Vec<Span> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut s = span(i as u64, Category::Text, i as f64);
            s.original_prompt = t.to_string();
            s.metadata.insert("note".to_string(), serde_json::json!(t));
            s
        })
        .collect();
    store.add_spans(&batch).await.unwrap();
    assert_eq!(store.all_spans().await.unwrap(), batch);
}
