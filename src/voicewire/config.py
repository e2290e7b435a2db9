"""Settings, from `VOICEWIRE_*` environment variables and the CLI flags that mirror them."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from voicewire.llm.base import DEFAULT_SYSTEM_PROMPT
from voicewire.llm.scripted import DEFAULT_REPLY


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOICEWIRE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    persist: bool = True  # off: nothing is stored (benchmarks compare the two)
    # Default: a SQLite file in data_dir. Production: postgresql+asyncpg://user@host/db
    database_url: str | None = None
    # PostgreSQL: a statement waits at most database_lock_timeout_s for a lock (the server's
    # lock_timeout) and takes at most database_command_timeout_s in all (asyncpg's
    # command_timeout); past either it fails, and the write is retried or logged, instead of
    # waiting forever behind a lock nobody releases. 0: no bound.
    database_lock_timeout_s: float = Field(default=10.0, ge=0)
    database_command_timeout_s: float = Field(default=30.0, ge=0)
    # Signs identity tokens; when unset, one is generated once and kept in data_dir.
    secret: str | None = None

    # The app that answers turns, as `module:object` (see voicewire.responder); default: the LLM.
    app: str | None = None
    # Tools offered to the LLM in every turn, as `module:object` (a Toolbox or a list of
    # functions; see voicewire.tools); default: none.
    tools: str | None = None

    llm: str = "llamacpp"
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "llama3.2"
    llm_api_key: str | None = None
    llm_max_tokens: int = 120
    llm_temperature: float = 0.2
    # Sampling of the embedded llama.cpp model. The defaults suit the 135M SmolLM2 whose reply is
    # read aloud: a low temperature and a repetition penalty keep it in plain English instead of
    # loops; the reply stops after llm_max_sentences (0: no limit), and one cut by
    # llm_max_tokens is trimmed back to its last sentence end (see docs/llm.md).
    llm_top_p: float = 0.9
    llm_min_p: float = 0.05
    llm_repeat_penalty: float = 1.15
    llm_max_sentences: int = 4
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    history_messages: int = 12

    scripted_reply: str = DEFAULT_REPLY
    scripted_tps: float = 30.0
    scripted_first_token_ms: float = 100.0

    tts: str = "piper"
    tts_workers: int | None = None  # synthesis threads shared by all sessions; default: cores
    # Piper voices (docs/voices.md): each NAME.onnx with its NAME.onnx.json in voices_dir is
    # offered besides the bundled joe; `voice` is the default (else joe, else the first).
    # Voices load on first use and at most voices_loaded stay loaded (least recently used goes).
    voices_dir: Path | None = None
    voice: str | None = None
    voices_loaded: int = 2
    # Pronunciations (TOML, word = "replacement" or "[[phonemes]]"), applied before synthesis.
    lexicon: Path | None = None
    tts_base_url: str = "http://127.0.0.1:8880/v1"
    tts_model: str = "tts-1"
    tts_api_key: str | None = None
    tts_voice: str = "alloy"
    tts_sample_rate: int = 24000
    # Spoken turns are admitted while their number stays within `speech_load_limit` × the
    # synthesis capacity (seconds of speech per second; measured, or `speech_capacity` when
    # set; 0 = unbounded), and the turns still starting (less than `speech_start_ahead_s` of
    # audio ready for their listener) within `speech_start_limit` × it; a turn over either is
    # answered as text with a `notice` (PROTOCOL.md §3; server/speech_load.py says why two).
    speech_load_limit: float = Field(default=0.9, gt=0)
    speech_start_limit: float = Field(default=0.55, gt=0)
    speech_start_ahead_s: float = Field(default=2.0, ge=0)
    speech_capacity: float | None = Field(default=None, ge=0)
    # Once the engines are loaded, what start-up made (models, modules, the ORM: ~150k objects)
    # is frozen out of the cyclic garbage collector's walks (`gc.freeze`): a full collection
    # over it held the GIL for ~80 ms, and every session's synthesis and sending waited.
    gc_freeze: bool = True

    # The first segment is spoken once it has this many words and ends a clause ("Sure,").
    first_segment_min_words: int = 1
    # Later segments may end at a clause boundary once they have this many words (0: only at
    # sentence ends). Shorter segments keep audio flowing when many sessions share the CPU.
    segment_clause_min_words: int = 6
    # Speech input: auto (whisper when its extra is installed, else pocketsphinx) | whisper |
    # pocketsphinx | openai | none. docs/stt.md says what each costs.
    stt: str = "auto"
    stt_base_url: str = "http://127.0.0.1:8000/v1"
    stt_model: str = "whisper-1"
    stt_api_key: str | None = None
    stt_silence_ms: int = 700  # a pause this long ends an utterance (input_audio end "vad")
    # Speech input's bounds (PROTOCOL.md, microphone). A microphone holds one STT stream from
    # input_audio.start to .stop, and a pocketsphinx stream holds a ~92 MB decoder: this many
    # at once per process (4 keeps a 2-core box's decoders within ~400 MB); more: `stt_busy`.
    max_stt_streams: int = 4
    # Make the engine's max_stt_streams decoders at start-up, before serving: no session then
    # waits while one is made (PocketSphinx holds the GIL for ~0.3-1.7 s per decoder), at the
    # cost of their memory from the start. Off: made as microphones first need them.
    stt_preload: bool = False
    # Whisper: decodes run in `stt_workers` threads of `stt_threads` cores each, one model per
    # process (1 x 1 leaves the other core of a 2-core box to speech synthesis: a request
    # decodes about as fast on one core as on two); an interim transcript at most every
    # `stt_interim_s` of speech (0: none).
    stt_workers: int = 1
    stt_threads: int = 1
    stt_interim_s: float = 1.0
    stt_max_utterance_s: float = 60.0  # longer: `stt_failed`, and the utterance ends
    # Each connection's audio budget: `stt_audio_burst_s` ahead of real time, then no faster
    # than `stt_audio_rate` × real time; more is dropped (`rate_limited`, once per utterance),
    # and dropping more than `stt_audio_flood_s` (draining at that rate) closes it 4008.
    stt_audio_burst_s: float = 2.0
    stt_audio_rate: float = 1.25
    stt_audio_flood_s: float = 30.0

    # Audio frames carry this much speech each (ms): big enough that the 20-byte header and the
    # WebSocket framing stay well under 1% of the bytes, small enough to start playing at once.
    frame_ms: int = 200

    # Handshake: browsers must come from these origins (scheme://host[:port]); empty means the
    # server's own origin. Clients that send no Origin (not browsers) are not affected.
    allowed_origins: list[str] = []
    require_token: bool = False  # refuse guests: only deployment-signed user tokens

    max_connections: int = 1000
    max_connections_per_identity: int = 8
    max_reply_chars: int = 8000
    idle_timeout_s: float = 300.0  # no client frame and no turn running for this long: close
    send_timeout_s: float = 10.0  # a client that reads nothing for this long is cut off
    llm_timeout_s: float = 30.0  # for the first token and between tokens
    ping_interval_s: float = 20.0  # WebSocket pings; a peer that misses one is closed

    # Resume (PROTOCOL.md §8). With redis_url set, replay logs and session ownership live in
    # Redis, so any process can serve a resume; unset, in this process's memory.
    redis_url: str | None = None
    resume_grace_s: float = 30.0  # a reply keeps being generated this long without a client
    resume_ttl_s: float = 120.0  # a session can be resumed this long after its last frame
    resume_buffer_frames: int = 4096  # frames kept per session for replay
    resume_token_ttl_s: int = 86400

    # Shutdown, once uvicorn has closed the sockets: pending database writes are awaited for at
    # most write_drain_timeout_s (those still running then are abandoned, each named in an
    # error log), and the whole of it (writes, hub, store) ends after shutdown_timeout_s at
    # most: past it, every task's stack is logged and the shutdown goes on without it.
    write_drain_timeout_s: float = Field(default=10.0, gt=0)
    shutdown_timeout_s: float = Field(default=20.0, gt=0)

    max_text_frame_bytes: int = 65536
    max_message_chars: int = 4000
    max_messages_per_second: int = 20
    send_queue_frames: int = 512

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/voicewire.db"
