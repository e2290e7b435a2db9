"""The PyAV encoders: what they send decodes back to the input's length, loudness and pitch."""

from __future__ import annotations

import pytest

from tests.codecs.audio import (
    FRAME_BYTES,
    RATE,
    decode_mp3,
    decode_opus,
    encode_like_turn,
    pcm_to_float,
    peak_hz,
    rms,
    tone,
)
from voicewire.codecs import CODECS, SAMPLE_RATES, make_encoder, output_rate
from voicewire.codecs.mp3 import MP3_RATES
from voicewire.codecs.opus import OPUS_RATE, records
from voicewire.protocol.frames import HEADER_SIZE
from voicewire.protocol.messages import Codec

SECONDS = 2.37  # not a whole number of 20 ms packets or 200 ms frames


@pytest.mark.parametrize("out_rate", sorted(SAMPLE_RATES))
def test_resampled_pcm16_keeps_the_length_and_the_pitch_of_the_input(out_rate: int) -> None:
    encoder = make_encoder("pcm16", RATE, out_rate)
    payloads = encode_like_turn(encoder, tone(SECONDS))
    audio = pcm_to_float(b"".join(payloads))
    # The filter's delay is flushed at the end, so the total is exact to within one sample.
    assert abs(audio.size - SECONDS * out_rate) <= 1
    assert encoder.samples == audio.size
    assert encoder.sample_rate == out_rate
    assert abs(peak_hz(audio, out_rate) - 440) < 2
    assert rms(audio) == pytest.approx(0.3 / 2**0.5, rel=0.02)


def test_pcm16_at_the_tts_rate_is_passed_through_byte_for_byte() -> None:
    pcm = tone(0.5)
    assert b"".join(encode_like_turn(make_encoder("pcm16", RATE, RATE), pcm)) == pcm


def test_opus_decodes_to_the_input_duration_and_pitch() -> None:
    encoder = make_encoder("opus", RATE, RATE)
    payloads = encode_like_turn(encoder, tone(SECONDS))
    assert encoder.sample_rate == OPUS_RATE
    assert abs(encoder.samples - SECONDS * OPUS_RATE) <= 1
    whole = decode_opus(payloads)
    # After the pre-skip only the last packet's padding is left over: less than 20 ms.
    assert 0 <= whole.size - encoder.samples < OPUS_RATE // 50
    audio = decode_opus(payloads, encoder.samples)
    assert abs(audio.size / OPUS_RATE - SECONDS) < 0.030
    assert rms(audio) > 0.15
    assert abs(peak_hz(audio, OPUS_RATE) - 440) < 2


def test_opus_packets_are_sent_as_they_are_made_not_at_the_end() -> None:
    encoder = make_encoder("opus", RATE, RATE)
    payloads = encode_like_turn(encoder, tone(SECONDS))
    packets = [len(records(p)) for p in payloads]
    # Every 200 ms frame carries its 10 packets at once (the first one also the OpusHead).
    assert len(payloads) == 12
    assert packets[0] >= 10 and all(n >= 9 for n in packets[1:-1])
    assert records(payloads[0])[0].startswith(b"OpusHead")
    assert not any(r.startswith(b"OpusHead") for p in payloads[1:] for r in records(p))


def test_opus_sample_counts_follow_the_packets_sent_so_far() -> None:
    encoder = make_encoder("opus", RATE, RATE)
    pcm = tone(SECONDS)
    packets = 0
    for pos in range(0, len(pcm), FRAME_BYTES):
        payload = encoder.encode(pcm[pos : pos + FRAME_BYTES])
        packets += len(records(payload)) - (1 if pos == 0 else 0)  # not the OpusHead
        # What the decoder has produced so far, less the 312 priming samples, is speech.
        assert encoder.samples == packets * 960 - 312
    encoder.flush()
    assert abs(encoder.samples - SECONDS * OPUS_RATE) <= 1


@pytest.mark.parametrize("rate", [16000, 22050, 24000])
def test_mp3_is_a_playable_file_of_exactly_the_input_duration(rate: int) -> None:
    encoder = make_encoder("mp3", rate, rate)
    payloads = encode_like_turn(encoder, tone(SECONDS, rate=rate), FRAME_BYTES * rate // RATE)
    data = b"".join(payloads)
    assert data[:2] == b"\xff\xf3"  # an MPEG-2 audio frame (the Info frame), no ID3 tag
    audio, decoded_rate = decode_mp3(data)
    assert decoded_rate == rate == encoder.sample_rate
    # The LAME tag's delay and padding make the decoder give back exactly the input.
    assert audio.size == encoder.samples == round(SECONDS * rate)
    assert rms(audio) > 0.15
    assert abs(peak_hz(audio, rate) - 440) < 2


def test_mp3_decodes_to_exactly_the_input_length_whatever_that_length_is() -> None:
    # Over a whole MP3 frame (576 samples) of lengths: some make LAME's flush spread the end
    # padding over two packets, which the encoder must still record in full.
    wrong = []
    for n in range(7400, 7400 + 576, 7):
        encoder = make_encoder("mp3", RATE, RATE)
        audio, _ = decode_mp3(b"".join(encode_like_turn(encoder, tone(n / RATE))))
        if not audio.size == encoder.samples == n:
            wrong.append((n, audio.size, encoder.samples))
    assert wrong == []


def test_mp3_resamples_a_tts_rate_that_is_not_the_requested_one() -> None:
    encoder = make_encoder("mp3", RATE, 16000)
    audio, rate = decode_mp3(b"".join(encode_like_turn(encoder, tone(1.0))))
    assert rate == 16000 and abs(audio.size - 16000) <= 1
    assert abs(peak_hz(audio, rate) - 440) < 2


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_encoders_never_raise_on_empty_input(codec: Codec) -> None:
    fresh = make_encoder(codec, RATE, RATE)
    assert fresh.encode(b"") == b""
    assert fresh.flush() == b""
    assert fresh.samples == 0
    used = make_encoder(codec, RATE, RATE)
    used.encode(tone(0.3))
    used.encode(b"")
    used.encode(b"\x01")  # half a sample: kept for the next chunk
    assert used.flush() is not None
    assert used.flush() == b"" and used.encode(b"") == b""


def test_opus_ignores_the_requested_rate_and_mp3_falls_back_to_an_mpeg_rate() -> None:
    assert output_rate("opus", 22050) == OPUS_RATE
    assert make_encoder("opus", RATE, 16000).sample_rate == OPUS_RATE
    assert output_rate("mp3", 22050) == 22050
    assert output_rate("mp3", 11111) in MP3_RATES
    assert output_rate("pcm16", 8000) == 8000
    assert SAMPLE_RATES <= MP3_RATES


def test_bytes_per_second_of_speech_and_the_framing_overhead_of_each_codec() -> None:
    pcm = tone(SECONDS)
    sizes = {}
    codecs: tuple[Codec, ...] = ("pcm16", "opus", "mp3")
    for codec in codecs:
        payloads = encode_like_turn(make_encoder(codec, RATE, RATE), pcm)
        wire = sum(len(p) + HEADER_SIZE for p in payloads)
        sizes[codec] = (wire / SECONDS, len(payloads) * HEADER_SIZE / wire)
    assert sizes["pcm16"][0] == pytest.approx(2 * RATE, rel=0.01)
    assert sizes["pcm16"][1] < 0.003
    # Opus at 24 kbps: ~3 KB/s of packets; the 20-byte header per 200 ms frame, the 2-byte
    # length per 20 ms packet and the OpusHead together stay well under 10 %.
    opus_bps, opus_header = sizes["opus"]
    assert 2500 < opus_bps < 5000
    assert opus_header < 0.04
    # MP3 at 48 kbps: 6 KB/s plus one Info frame per segment, in one wire frame.
    mp3_bps, mp3_header = sizes["mp3"]
    assert 5800 < mp3_bps < 6800
    assert mp3_header < 0.002
