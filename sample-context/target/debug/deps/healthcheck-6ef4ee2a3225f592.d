/home/dev/sample-context/target/debug/deps/healthcheck-6ef4ee2a3225f592: /home/dev/sample-context/tools/healthcheck/src/main.rs

/home/dev/sample-context/target/debug/deps/healthcheck-6ef4ee2a3225f592.d: /home/dev/sample-context/tools/healthcheck/src/main.rs

/home/dev/sample-context/tools/healthcheck/src/main.rs:

# env-dep:CARGO_PKG_NAME=healthcheck
