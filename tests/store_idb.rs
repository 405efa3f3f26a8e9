//! The storage conformance suite on [`IdbStore`], in real IndexedDB in headless Chromium
//! (`cargo test --target wasm32-unknown-unknown --tests`).
#![cfg(target_arch = "wasm32")]

mod conformance;

use lightprompt::store::idb::IdbStore;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh, empty database per case.
async fn fresh(case: &str) -> IdbStore {
    let name = format!("conformance-{case}-{}", js_sys::Math::random());
    IdbStore::open(&name).await.expect("open IndexedDB")
}

macro_rules! idb_case {
    ($name:ident) => {
        #[wasm_bindgen_test]
        async fn $name() {
            conformance::$name(fresh(stringify!($name)).await).await;
        }
    };
}

for_each_conformance_case!(idb_case);

#[wasm_bindgen_test]
async fn data_survives_closing_and_reopening() {
    use lightprompt::prompt::Category;
    use lightprompt::store::Store;
    let name = format!("reopen-{}", js_sys::Math::random());
    let store = IdbStore::open(&name).await.unwrap();
    store
        .add_spans(&[conformance::span(1, Category::Image, 5.0)])
        .await
        .unwrap();
    store.close();
    let again = IdbStore::open(&name).await.unwrap();
    assert_eq!(again.count_spans(None).await.unwrap(), 1);
    assert_eq!(
        again.span(&conformance::sid(1)).await.unwrap(),
        Some(conformance::span(1, Category::Image, 5.0))
    );
}

#[wasm_bindgen_test]
async fn an_aborted_transaction_is_an_error_and_writes_nothing() {
    use lightprompt::prompt::Category;
    use lightprompt::store::Store;
    use lightprompt::ErrorCode;
    let store = fresh("aborted").await;
    store
        .add_spans(&[conformance::span(7, Category::Image, 1.0)])
        .await
        .unwrap();
    // The third add fails inside the transaction; IndexedDB aborts it, undoing the first two.
    let batch: Vec<_> = [5, 6, 7, 8]
        .iter()
        .map(|&n| conformance::span(n, Category::Video, n as f64))
        .collect();
    let err = store.add_spans(&batch).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Duplicate, "{err}");
    assert_eq!(store.count_spans(None).await.unwrap(), 1);
    assert_eq!(store.span(&conformance::sid(5)).await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn a_closed_store_fails_with_closed() {
    use lightprompt::store::Store;
    use lightprompt::ErrorCode;
    let store = fresh("closed").await;
    store.close();
    assert_eq!(
        store.count_spans(None).await.unwrap_err().code,
        ErrorCode::Closed
    );
}
