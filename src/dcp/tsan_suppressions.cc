// TSan suppressions for dcp_test (linked into the test binary only).
//
// Debian's librocksdb is not built with -fsanitize=thread: its memtable skiplist, snapshot list
// and write-group hand-offs synchronise through atomics TSan cannot see, so concurrent use of
// RocksDB from the flusher and from backfill scans is reported as a race. Any report with a
// librocksdb frame is therefore noise; races entirely inside sluice code are still reported.
// TSan calls this hook at startup when it is defined.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
extern "C" const char* __tsan_default_suppressions() { return "race:librocksdb.so\n"; }
#endif
#endif
