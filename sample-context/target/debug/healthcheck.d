/home/dev/sample-context/target/debug/healthcheck: /home/dev/sample-context/tools/healthcheck/build.rs /home/dev/sample-context/tools/healthcheck/src/main.rs
