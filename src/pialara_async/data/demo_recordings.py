"""``seed``'s PIA Lara demo: phrases, a consent, and a few synthetic recordings
of the demo client, so that every screen has something to show.

The phrases were written for this project: short everyday Spanish
sentences, each tagged by the sound it practises and where it falls in the
word (``r-ini-01``: /r/ at the start). The recordings are not anyone's
voice: a harmonic tone shaped like a syllable, made with PyAV and labelled
``synthetic``.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from pathlib import Path
from typing import Any

import av
import numpy as np

from pialara_async import audio
from pialara_async.repositories import consents, indexes, phrases, recordings

DEMO_PHRASES: tuple[tuple[str, str], ...] = (
    ("r-ini-01", "Rosa riega las rosas rojas."),
    ("r-ini-02", "El ratón corre por la casa."),
    ("r-med-01", "La pera está madura."),
    ("r-med-02", "Mi hermano toca la guitarra."),
    ("rr-01", "El perro de Ramón ladra mucho."),
    ("rr-02", "La carretera tiene tres carriles."),
    ("s-ini-01", "Sara sale a pasear el sábado."),
    ("s-fin-01", "Los niños juegan en las plazas."),
    ("l-ini-01", "La luna luce esta noche."),
    ("l-med-01", "El helado de limón está frío."),
    ("k-ini-01", "Carlos come queso con pan."),
    ("k-med-01", "La vaca come hierba en el campo."),
    ("p-ini-01", "Pablo pinta la puerta de azul."),
    ("p-med-01", "El papel está encima de la mesa."),
    ("t-ini-01", "Tomás toma té todas las tardes."),
    ("t-med-01", "La tortuga camina despacio."),
    ("d-ini-01", "Daniel duerme después de comer."),
    ("d-med-01", "El dado tiene seis caras."),
    ("b-ini-01", "Beatriz bebe agua fresca."),
    ("b-med-01", "El lobo aúlla en el bosque."),
    ("g-ini-01", "El gato gris sube al tejado."),
    ("g-med-01", "La tortilla lleva patata y huevo."),
    ("f-ini-01", "Felipe fue a la fiesta."),
    ("ch-01", "La chica lleva chaqueta."),
    ("ll-01", "La llave está en el bolsillo."),
    ("ny-01", "El niño tiene sueño."),
    ("j-01", "Juan juega en el jardín."),
    ("m-ini-01", "Mamá mira el mar."),
    ("n-ini-01", "Nadie nada en el río."),
    ("z-01", "La taza de café está caliente."),
    ("vocales-01", "Ahí hay un oso."),
    ("vocales-02", "Eva y Ana van a casa."),
    ("corta-01", "Buenos días."),
    ("corta-02", "Tengo hambre."),
    ("corta-03", "Hace mucho calor."),
    ("corta-04", "Quiero agua, por favor."),
    ("larga-01", "Mañana por la mañana iremos al mercado a comprar fruta."),
    ("larga-02", "Cuando llueve me gusta leer un libro junto a la ventana."),
    ("larga-03", "Mi abuela prepara una sopa de verduras muy rica."),
    ("larga-04", "El autobús pasa por la esquina cada quince minutos."),
)

CONSENT_TEXT = (
    "Consentimiento de demostración. Acepto que mis grabaciones de voz, junto con mi "
    "sexo, mi franja de edad y mi patología, se usen para entrenar y evaluar el "
    "reconocimiento del habla. Puedo retirar este consentimiento y pedir que se borren "
    "mis grabaciones en cualquier momento.")
SYNTHETIC = (("corta-01", 1.4, 190.0), ("corta-02", 1.2, 210.0), ("rr-01", 2.4, 180.0))
RATE = 16_000


def synthetic_voice(seconds: float, pitch: float) -> bytes:
    """A WAV of a voiced sound: harmonics of ``pitch`` under a syllable-like
    envelope (16 kHz, mono, 16-bit)."""
    t = np.arange(round(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6))
    envelope = np.abs(np.sin(np.pi * t * 3 / seconds)) ** 0.5
    samples = (wave * envelope * 0.25 * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)
    return buffer.getvalue()


async def seed_recordings_demo(db: Any, admin_id: Any, technician_id: Any,
                               client_id: Any) -> dict[str, int]:
    """Replace the phrases, consents and recordings with the demo set."""
    for name in ("phrases", "assignments", "consent_texts", "consents", "recordings",
                 "erasures", f"{recordings.BUCKET}.files", f"{recordings.BUCKET}.chunks"):
        await db.drop_collection(name)
    await indexes.ensure_indexes(db)
    ids = await phrases.insert_many(db, [
        {"tag": tag, "text": text, "language": "es", "created_by": technician_id}
        for tag, text in DEMO_PHRASES], session=None)
    by_tag = dict(zip((tag for tag, _ in DEMO_PHRASES), ids, strict=True))
    version = (await consents.publish(db, CONSENT_TEXT, "es", admin_id))["version"]
    await consents.record(db, {"client_id": client_id, "version": version,
                               "action": "accepted", "method": "online",
                               "recorded_by": client_id})
    await phrases.assign(db, client_id, ids, technician_id)
    for tag, seconds, pitch in SYNTHETIC:
        data = synthetic_voice(seconds, pitch)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "demo.wav"
            await asyncio.to_thread(path.write_bytes, data)
            facts = await asyncio.to_thread(audio.inspect_recording, path, "audio/wav")
            file_id, size = await recordings.store_audio(
                db, path, filename=f"{client_id}/{by_tag[tag]}", content_type="audio/wav",
                metadata={"client_id": client_id, "phrase_id": by_tag[tag]})
        await recordings.insert(db, {
            "client_id": client_id, "technician_id": technician_id, "phrase_id": by_tag[tag],
            "file_id": file_id, "content_type": "audio/wav", "size": size,
            "duration": facts.duration, "sample_rate": facts.sample_rate,
            "channels": facts.channels, "peak_dbfs": facts.peak_dbfs,
            "rms_dbfs": facts.rms_dbfs, "consent_version": version, "synthetic": True})
    return {"phrases": len(ids), "recordings": len(SYNTHETIC)}
