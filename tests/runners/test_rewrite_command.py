"""`nava-eval rewrite` and `run jsonl:P --rewrite` against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from nava_eval.nava.rewrite_instructions import INSTRUCTIONS
from nava_eval.rundir.run_file import load_run_file
from nava_eval.runners.cli.main import cli

PROMPTS = [
    {"prompt": "A chef says <S>Dinner is ready!<E>", "id": "chef"},
    {"text": "一只猫在窗边", "set": "cats"},
]


class FakeServer:
    """A chat-completions endpoint answering from a script: each entry is a reply text, ("status", code),
    ("sleep", seconds) or a callable(payload) -> reply. Requests are kept in `requests`."""

    def __init__(self) -> None:
        self.script: list = []
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"path": self.path, **payload})
                step = owner.script.pop(0) if owner.script else ("status", 500)
                if callable(step):
                    step = step(payload)
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = "late"
                if isinstance(step, tuple):
                    self.send_response(step[1])
                    self.end_headers()
                    self.wfile.write(b'{"error": "scripted failure"}')
                    return
                body = json.dumps({"choices": [{"message": {"role": "assistant", "content": step}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that gave up (the timeout test) closed the socket: not the test's output

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.close()


def _prompts(tmp_path: Path, lines=PROMPTS) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path


def _rewrite(tmp_path: Path, server: FakeServer, *extra: str, src: Path | None = None):
    args = ["rewrite", str(src or _prompts(tmp_path)), "-o", str(tmp_path / "out.jsonl"),
            "--rewrite-server", server.url, "--rewrite-cache", str(tmp_path / "cache"), "--no-progress",
            *extra]  # fmt: skip
    return CliRunner().invoke(cli, args)


def test_rewrites_a_file_with_the_releases_request_and_strips_thinking(tmp_path: Path, server) -> None:
    server.script = [
        "<think>\n用户要一个厨师。首先分析。\n</think>\n\n这是一段视频，厨师说道：<S>Dinner is ready!<E>。整体听感温暖，突出晚餐。",
        "好的，先想想。\n</think>\n\n画面中一只猫趴在窗边。整体氛围安静，营造出午后的慵懒。",  # 2507: only </think>
    ]
    result = _rewrite(tmp_path, server)
    assert result.exit_code == 0, result.output
    assert "2 rewritten" in result.output and "0 from the cache" in result.output
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert out[0]["prompt"] == "这是一段视频，厨师说道：<S>Dinner is ready!<E>。整体听感温暖，突出晚餐。"
    assert out[0]["original_prompt"] == PROMPTS[0]["prompt"] and out[0]["id"] == "chef"
    assert (
        out[1]["text"] == "画面中一只猫趴在窗边。整体氛围安静，营造出午后的慵懒。" and out[1]["set"] == "cats"
    )
    assert out[0]["rewrite"]["model"] == "Qwen/Qwen3-4B-Thinking-2507"
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["messages"] == [
        {"role": "system", "content": INSTRUCTIONS["pe-single"].text},
        {"role": "user", "content": PROMPTS[0]["prompt"]},
    ]
    sampling = {
        k: request[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens", "seed")
    }
    assert sampling == {
        "temperature": 0.3, "top_p": 0.75, "top_k": 20, "repetition_penalty": 1.05, "max_tokens": 4096, "seed": 42,
    }  # fmt: skip
    # Again: every prompt from the cache, the server is not asked.
    again = _rewrite(tmp_path, server)
    assert again.exit_code == 0 and "0 rewritten, 2 from the cache" in again.output
    assert len(server.requests) == 2
    # Another instruction is another cache entry.
    server.script = ["这是一段视频：<S>Dinner is ready!<E>", "这是一段视频。"]
    other = _rewrite(tmp_path, server, "--rewrite-instruction", "vllm-template")
    assert "2 rewritten" in other.output
    assert server.requests[-1]["messages"][0]["content"] == INSTRUCTIONS["vllm-template"].text


def test_a_broken_span_is_retried_then_refused_naming_the_line(tmp_path: Path, server) -> None:
    server.script = ["厨师说：<S>Dinner's ready!<E>", "厨师说：<S>Dinner is ready!<E>。", "这是一段视频。"]
    result = _rewrite(tmp_path, server)
    assert result.exit_code == 0, result.output
    assert "(1 after a refused try)" in result.output
    assert [r["seed"] for r in server.requests] == [42, 43, 42]
    first = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["rewrite"]["attempts"] == 2

    (tmp_path / "out.jsonl").unlink()
    lines = [{"prompt": "他说 <S>Keep every word<E>"}]
    server.script = ["他说<S>Keep every<E>", "他什么也没说", "<S>Keep every word<E><S>and more<E>"]
    (tmp_path / "x").mkdir()
    refused = _rewrite(tmp_path, server, src=_prompts(tmp_path / "x", lines))
    assert refused.exit_code == 1
    message = refused.output.strip()
    assert message.startswith("Error: ") and "prompts.jsonl:1: every one of 3 rewrite tries" in message
    assert "adds speech span(s) ['and more']" in message and "Traceback" not in refused.output
    assert not (tmp_path / "out.jsonl").exists()  # nothing half-written


def test_server_errors_and_timeouts_are_clear_and_bounded(tmp_path: Path, server) -> None:
    server.script = [("status", 500), ("status", 503), ("status", 500)]
    failed = _rewrite(tmp_path, server)
    assert failed.exit_code == 1 and "answered HTTP 500" in failed.output and "tried 3 times" in failed.output
    assert len(server.requests) == 3

    server.script = [("status", 404)]
    wrong = _rewrite(tmp_path, server)
    assert "answered HTTP 404" in wrong.output and len(server.requests) == 4  # a 4xx is not tried again

    server.script = [("sleep", 3.0)] * 3
    started = time.monotonic()
    late = _rewrite(tmp_path, server, "--rewrite-timeout", "0.3")
    assert late.exit_code == 1 and "did not answer within 0.3 s" in late.output
    assert time.monotonic() - started < 8  # three tries of 0.3 s and two pauses of 1 s, no hang

    server.script = [lambda payload: ("status", 200)]
    empty = _rewrite(tmp_path, server)
    assert empty.exit_code == 1 and "did not answer with a chat completion" in empty.output

    closed = FakeServer()
    closed.close()
    gone = _rewrite(tmp_path, closed)
    assert gone.exit_code == 1 and "cannot be reached" in gone.output and "Traceback" not in gone.output


def test_bad_input_lines_are_named(tmp_path: Path, server) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "ok"}\n{not json\n{"id": "x"}\n{"prompt": "  "}\n[1]\n', encoding="utf-8")
    result = _rewrite(tmp_path, server, src=path)
    assert result.exit_code == 1 and not server.requests
    for where in ("bad.jsonl:2: not valid JSON", "bad.jsonl:3: field 'prompt': missing",
                  "bad.jsonl:4: field 'prompt': must be a non-empty string", "bad.jsonl:5: expected a JSON object"):  # fmt: skip
        assert where in result.output, result.output
    assert "Traceback" not in result.output


def test_help_explains() -> None:
    result = CliRunner().invoke(cli, ["rewrite", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for phrase in ("<S>…<E>", "--rewrite-server", "Qwen3-4B-Thinking-2507", "cached", "original_prompt"):
        assert phrase in text
    assert "rewrite" in CliRunner().invoke(cli, ["--help"]).output


def test_rewrite_is_for_jsonl_prompt_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "versebench", "--preset", "smoke", "--rewrite", "--dry-run"])
    assert result.exit_code == 1 and "--rewrite applies to your own prompt files" in result.output
    lone = CliRunner().invoke(cli, ["run", "versebench", "--dry-run", "--rewrite-server", "http://x"])
    assert lone.exit_code == 2 and "--rewrite-server needs --rewrite" in lone.output


@pytest.mark.slow
def test_run_generates_from_the_rewrites_and_records_them(tmp_path: Path, server) -> None:
    prompts = _prompts(tmp_path, [{"prompt": "A chef says <S>Dinner is ready!<E>", "id": "chef"}])
    rewritten = "这是一段视频，厨师说道：<S>Dinner is ready!<E>。整体听感温暖，突出晚餐。"
    run = tmp_path / "run"
    args = ["run", f"jsonl:{prompts}", "--preset", "smoke", "--rewrite", "--rewrite-server", server.url,
            "--rewrite-cache", str(tmp_path / "cache"), "--run-dir", str(run), "--metrics", "audio_amplitude",
            "--no-progress"]  # fmt: skip
    dry = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.output)
    assert plan["rewrite"]["to_rewrite"] == 1 and plan["samples"][0]["rewrite"]["cached"] is False
    assert not server.requests  # the dry run asks no model

    server.script = ["<think>想一想</think>" + rewritten]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_file = load_run_file(run)
    assert run_file.spec.rewrite is not None and run_file.spec.rewrite.server == server.url
    assert run_file.spec.rewrite.instruction_sha256 == INSTRUCTIONS["pe-single"].sha256
    (record,) = run_file.rewrites
    assert (record.item, record.original, record.rewritten) == (
        "chef",
        "A chef says <S>Dinner is ready!<E>",
        rewritten,
    )
    assert record.cache_key == run_file.spec.rewrite.cache_key(record.original)
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert samples[-1]["prompt_sha256"] == hashlib.sha256(rewritten.encode()).hexdigest()
    # Without --rewrite the same directory is another run (the spec hash covers the rewriter).
    plain = CliRunner().invoke(cli, [a for a in args if a not in ("--rewrite",) and not a.startswith("http")
                                     and a != "--rewrite-server"])  # fmt: skip
    assert plain.exit_code == 1 and "generated with other settings" in plain.output
    # Again: the rewrite comes from the cache, nothing is generated again.
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and "0 generated" in again.output and len(server.requests) == 1
    dry = json.loads(CliRunner().invoke(cli, [*args, "--dry-run"]).output)
    assert dry["samples"][0]["prompt"] == rewritten and dry["samples"][0]["rewrite"]["cached"] is True
    # Scoring alone reads the recorded rewrites.
    from nava_eval.runners.run import load_prepared

    assert load_prepared(run).samples[0].prompt == rewritten
