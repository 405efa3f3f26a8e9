//! The storage conformance suite on [`MemoryStore`].

mod conformance;

use lightprompt::store::MemoryStore;

macro_rules! memory_case {
    ($name:ident) => {
        #[test]
        fn $name() {
            lightprompt::learn::simulate::block_on(conformance::$name(MemoryStore::new()));
        }
    };
}

for_each_conformance_case!(memory_case);
