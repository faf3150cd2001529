//! Parser cost per chunk, without Python: `cargo bench -p tinyagent-native
//! --no-default-features --bench parse`. The whole parser of each format, and the SSE
//! decoder alone, over 100,000 chunks fed in 64 KiB reads.

use std::time::Instant;

use _native::bench::{AnyParser, SseDecoder};

const CHUNKS: usize = 100_000;

fn per_chunk(seconds: f64) -> f64 {
    seconds / CHUNKS as f64 * 1e6
}

fn measure(name: &str, format: &str, head: &str, one: &str) {
    let body: Vec<u8> = format!("{head}{}", one.repeat(CHUNKS)).into_bytes();
    let t = Instant::now();
    let mut parser = AnyParser::new(format, 1 << 24, 1 << 30, false).expect("a known format");
    let mut out = Vec::new();
    for piece in body.chunks(65536) {
        parser.feed(piece, &mut out);
    }
    let parse = per_chunk(t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut sse = SseDecoder::new(1 << 24);
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    for piece in body.chunks(65536) {
        sse.feed(piece, &mut payloads)
            .expect("within the line limit");
    }
    let decode = per_chunk(t.elapsed().as_secs_f64());
    println!(
        "{name:<22} {parse:>7.3} us/chunk  (sse alone {decode:.3}; {} events)",
        out.len()
    );
}

fn main() {
    let chat = |delta: &str| {
        format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        )
    };
    measure(
        "openai-chat text",
        "openai-chat",
        "",
        &chat("{\"content\":\" tok\"}"),
    );
    measure(
        "openai-chat tool args",
        "openai-chat",
        "",
        &chat("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ab\"}}]}"),
    );
    let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    let delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" tok\"}}\n\n";
    measure("anthropic text", "anthropic-messages", start, delta);
    let added = "data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"m\",\"type\":\"message\"}}\n\n";
    let text = "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":12345,\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"delta\":\" tok\",\"logprobs\":[],\"obfuscation\":\"abcdefgh\"}\n\n";
    measure("openai-responses text", "openai-responses", added, text);
}
