//! Parser cost per chunk, without Python: `cargo bench -p tinyagent-native
//! --no-default-features --bench parse`. The whole parser of each format, and its
//! framing's decoder alone (SSE, or the AWS event stream), over 100,000 chunks fed in
//! 64 KiB reads.

use std::time::Instant;

use _native::bench::{AnyParser, EventStreamDecoder, SseDecoder};

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

/// One AWS event-stream frame with the headers Bedrock sends.
fn frame(event: &str, payload: &str) -> Vec<u8> {
    let mut headers = Vec::new();
    for (k, v) in [
        (":event-type", event),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ] {
        headers.push(k.len() as u8);
        headers.extend_from_slice(k.as_bytes());
        headers.push(7);
        headers.extend_from_slice(&(v.len() as u16).to_be_bytes());
        headers.extend_from_slice(v.as_bytes());
    }
    let total = (16 + headers.len() + payload.len()) as u32;
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&headers);
    out.extend_from_slice(payload.as_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn measure_frames(name: &str, body: &[u8]) {
    let t = Instant::now();
    let mut parser = AnyParser::new("bedrock-converse", 1 << 24, 1 << 30, false).expect("known");
    let mut out = Vec::new();
    for piece in body.chunks(65536) {
        parser.feed(piece, &mut out);
    }
    let parse = per_chunk(t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut decoder = EventStreamDecoder::new(1 << 24);
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    for piece in body.chunks(65536) {
        decoder
            .feed(piece, &mut payloads)
            .expect("well-formed frames");
    }
    let decode = per_chunk(t.elapsed().as_secs_f64());
    println!(
        "{name:<22} {parse:>7.3} us/chunk  (event-stream decoder alone {decode:.3}; {} events)",
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
    let gemini = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" tok\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":7,\"totalTokenCount\":17},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"resp_bench\"}\r\n\r\n";
    measure("google-gemini text", "google-gemini", "", gemini);
    let mut body = frame("messageStart", "{\"role\":\"assistant\"}");
    let delta = frame(
        "contentBlockDelta",
        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\" tok\"},\"p\":\"abcdefgh\"}",
    );
    for _ in 0..CHUNKS {
        body.extend_from_slice(&delta);
    }
    measure_frames("bedrock-converse text", &body);
}
