//! The JS API (`LightPrompt`) on real IndexedDB in headless Chromium: persistence across
//! close and re-open, typed errors, nothing stored on bad input.
#![cfg(target_arch = "wasm32")]

use js_sys::{Promise, Reflect};
use lightprompt::wasm::LightPrompt;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn obj(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p)
        .await
        .unwrap_or_else(|e| panic!("rejected: {:?}", Reflect::get(&e, &"message".into())))
}

async fn code_of(p: Promise) -> (String, JsValue) {
    let e = JsFuture::from(p).await.expect_err("should reject");
    assert!(e.is_instance_of::<js_sys::Error>());
    (get(&e, "code").as_string().unwrap(), get(&e, "field"))
}

async fn open(name: &str) -> LightPrompt {
    let options = obj(&format!(
        r#"{{"dbName":"{name}","seed":3,"autoTrainEvery":2}}"#
    ));
    use wasm_bindgen::convert::TryFromJsValue;
    LightPrompt::try_from_js_value(ok(LightPrompt::open(Some(options))).await)
        .expect("a LightPrompt")
}

#[wasm_bindgen_test]
async fn optimize_feedback_and_status_persist_in_indexeddb() {
    let name = format!("api-{}", js_sys::Math::random());
    let lp = open(&name).await;
    assert_eq!(lp.storage(), "indexeddb");
    let mut span_ids = Vec::new();
    for prompt in [
        "a lighthouse on a cliff",
        "노을 지는 바닷가",
        "a red fox in the snow",
    ] {
        let r = ok(lp.optimize(obj(&format!(
            r#"{{"prompt":"{prompt}","category":"image","model":"sdxl"}}"#
        ))))
        .await;
        assert!(get(&r, "optimizedPrompt")
            .as_string()
            .unwrap()
            .starts_with(prompt));
        span_ids.push(get(&r, "spanId").as_string().unwrap());
    }
    for id in &span_ids {
        let fb = ok(lp.feedback(obj(&format!(
            r#"{{"spanId":"{id}","metadata":{{"rating":5,"satisfied":true}}}}"#
        ))))
        .await;
        assert!(get(&fb, "reward").as_f64().unwrap() > 0.0);
    }
    let status = ok(lp.training_status()).await;
    assert_eq!(get(&status, "policyVersion").as_f64(), Some(1.0)); // auto-trained after 2 rewards
    lp.close();
    let (code, _) = code_of(lp.training_status()).await;
    assert_eq!(code, "Closed");

    let again = open(&name).await;
    let status = ok(again.training_status()).await;
    assert_eq!(get(&status, "totalSpans").as_f64(), Some(3.0));
    assert_eq!(get(&status, "totalRewards").as_f64(), Some(3.0));
    assert_eq!(get(&status, "policyVersion").as_f64(), Some(1.0));
    assert_eq!(
        get(&status, "storage").as_string().as_deref(),
        Some("indexeddb")
    );
    let spans = ok(again.spans(Some(obj(r#"{"limit":2}"#)))).await;
    assert_eq!(js_sys::Array::from(&spans).length(), 2);
    again.close();
}

#[wasm_bindgen_test]
async fn bad_input_is_typed_and_stores_nothing() {
    let lp = open(&format!("bad-{}", js_sys::Math::random())).await;
    let cases = [
        (
            r#"{"prompt":"","category":"image"}"#,
            "InvalidInput",
            Some("prompt"),
        ),
        (
            r#"{"prompt":"a fox","category":"smell"}"#,
            "InvalidInput",
            Some("category"),
        ),
        (r#"{"prompt":"a fox"}"#, "InvalidInput", Some("category")),
        (r#"{"prompt":7,"category":"image"}"#, "InvalidInput", None),
        (
            r#"{"prompt":"a fox","category":"image","options":{"aspectRatio":"banana"}}"#,
            "InvalidInput",
            Some("options.aspectRatio"),
        ),
        (
            r#"{"prompt":"a fox","category":"image","extra":1}"#,
            "InvalidInput",
            Some("extra"),
        ),
    ];
    for (json, code, field) in cases {
        let (c, f) = code_of(lp.optimize(obj(json))).await;
        assert_eq!(c, code, "{json}");
        if let Some(field) = field {
            assert_eq!(f.as_string().as_deref(), Some(field), "{json}");
        }
    }
    let (c, f) = code_of(lp.feedback(obj(r#"{"spanId":"00000000000000ab","reward":0.5}"#))).await;
    assert_eq!(
        (c.as_str(), f.as_string().as_deref()),
        ("NotFound", Some("spanId"))
    );
    let status = ok(lp.training_status()).await;
    assert_eq!(get(&status, "totalSpans").as_f64(), Some(0.0));
    assert_eq!(get(&status, "totalRewards").as_f64(), Some(0.0));
    lp.close();
}

#[wasm_bindgen_test]
async fn a_batch_is_one_transaction_all_or_nothing() {
    let lp = open(&format!("batch-{}", js_sys::Math::random())).await;
    let good: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"prompt":"a ship number {i}","category":"image","model":"flux"}}"#))
        .collect();
    let mut bad = good.clone();
    bad[49] = r#"{"prompt":"  ","category":"image"}"#.to_string();
    let (c, f) = code_of(lp.optimize_batch(obj(&format!("[{}]", bad.join(","))), None)).await;
    assert_eq!(
        (c.as_str(), f.as_string().as_deref()),
        ("InvalidInput", Some("requests[49].prompt"))
    );
    assert_eq!(
        get(&ok(lp.training_status()).await, "totalSpans").as_f64(),
        Some(0.0)
    );
    let out = ok(lp.optimize_batch(obj(&format!("[{}]", good.join(","))), None)).await;
    assert_eq!(js_sys::Array::from(&out).length(), 50);
    assert_eq!(
        get(&ok(lp.training_status()).await, "totalSpans").as_f64(),
        Some(50.0)
    );
    lp.close();
}
