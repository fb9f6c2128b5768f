//! Message templates of 30 real-looking log lines, the expected templates written by
//! hand from the masking rules of `modelwatch_core::ops::template`.

use modelwatch_core::ops::template::template;

const CASES: [(&str, &str); 30] = [
    (
        "Connection to 10.0.0.12:5432 timed out after 30s",
        "Connection to <num>:<num> timed out after <num>s",
    ),
    ("User 'alice' not found", "User '<str>' not found"),
    (
        "request 9f1c2d3e-4b5a-6789-abcd-ef0123456789 failed with status 500",
        "request <uuid> failed with status <num>",
    ),
    (
        "Loaded model resnet50 v2 in 1.25s",
        "Loaded model resnet50 v2 in <num>s",
    ),
    (
        "GET /api/v1/models/credit/metrics 200 12.5ms",
        "GET /api/v1/models/credit/metrics <num> <num>ms",
    ),
    (
        "Out of memory: tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)",
        "Out of memory: tried to allocate <num> GiB (GPU <num>; <num> GiB total capacity)",
    ),
    (
        "Segmentation fault at address 0x7f3a2b4c10d8",
        "Segmentation fault at address <hex>",
    ),
    (
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 finished",
        "trace_id=<hex> span_id=<hex> finished",
    ),
    (
        "Batch of 256 predictions scored in 48 ms",
        "Batch of <num> predictions scored in <num> ms",
    ),
    (
        "Feature \"income\" has 17 missing values",
        "Feature \"<str>\" has <num> missing values",
    ),
    (
        "Retrying in 2s (attempt 3/5)",
        "Retrying in <num>s (attempt <num>/<num>)",
    ),
    ("Worker pod-7 restarted", "Worker pod-<num> restarted"),
    (
        "temperature=-0.25 below threshold",
        "temperature=<num> below threshold",
    ),
    (
        "Scheduled job at 2024-03-11T10:00:00Z",
        "Scheduled job at <time>",
    ),
    (
        "2024-03-11 10:15:42.123 WARN disk usage at 91%",
        "<time> WARN disk usage at <num>%",
    ),
    (
        "Can't open file '/tmp/model_7.bin': permission denied",
        "Can't open file '<str>': permission denied",
    ),
    (
        "Prediction p-000123 took 1532 ms, above SLO of 500 ms",
        "Prediction p-<num> took <num> ms, above SLO of <num> ms",
    ),
    (
        "Cache hit ratio 0.87 over last 1000 requests",
        "Cache hit ratio <num> over last <num> requests",
    ),
    (
        "Unhandled exception in thread \"worker-3\": ValueError: could not convert string to float: 'abc'",
        "Unhandled exception in thread \"<str>\": ValueError: could not convert string to float: '<str>'",
    ),
    (
        "Model version v3.2.1 deployed",
        "Model version v3.2.1 deployed",
    ),
    (
        "Received SIGTERM, shutting down (pid 4242)",
        "Received SIGTERM, shutting down (pid <num>)",
    ),
    (
        "Kafka consumer lag is 15234 messages on partition 7",
        "Kafka consumer lag is <num> messages on partition <num>",
    ),
    (
        "Invalid value for feature `age`: -3",
        "Invalid value for feature `<str>`: <num>",
    ),
    (
        "HTTP 503 from upstream http://10.1.2.3:8080/predict",
        "HTTP <num> from upstream http://<num>:<num>/predict",
    ),
    (
        "Saved checkpoint epoch_12 to s3://bucket/ckpt/3fa85f6457174562b3fc2c963f66afa6.pt",
        "Saved checkpoint epoch_12 to s3://bucket/ckpt/<hex>.pt",
    ),
    (
        "GC pause of 120ms, heap 1.5GB -> 900MB",
        "GC pause of <num>ms, heap <num>GB -> <num>MB",
    ),
    (
        "Job 7781 finished: 98.6% rows valid, 1,204 rejected",
        "Job <num> finished: <num>% rows valid, <num>,<num> rejected",
    ),
    (
        "fatal error:  runtime:\tout of   memory ",
        "fatal error: runtime: out of memory",
    ),
    (
        "Session 0xDEADBEEF expired after 3600 seconds",
        "Session <hex> expired after <num> seconds",
    ),
    (
        "Request from user 42 with id \"a1b2\" took 3e-3 s",
        "Request from user <num> with id \"<str>\" took <num> s",
    ),
];

#[test]
fn thirty_log_lines_mask_as_written_by_hand() {
    let mut wrong = Vec::new();
    for (line, expected) in CASES {
        let got = template(line);
        if got != expected {
            wrong.push(format!(
                "{line:?}\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn messages_that_differ_only_in_values_share_a_template() {
    assert_eq!(
        template("user 17 logged in from 10.0.0.1"),
        template("user 90210 logged in from 192.168.1.20")
    );
    assert_ne!(
        template("user 17 logged in"),
        template("user 17 logged out")
    );
    assert_eq!(
        template("model timeout after 1000 ms for request p12345"),
        "model timeout after <num> ms for request p<num>"
    );
}
