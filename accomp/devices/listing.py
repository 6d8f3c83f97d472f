"""`accomp devices`: every audio host API with its devices, and every MIDI API with its ports."""

from __future__ import annotations

import json
from dataclasses import dataclass

from accomp.devices.audio import refresh, sounddevice
from accomp.devices.midi import api_name, compiled_apis, list_ports, quiet_stderr
from accomp.errors import DeviceError


def audio_devices() -> list[dict]:
    """Host APIs, each with its devices (index, name, channels, default sample rate)."""
    sd = sounddevice()
    with quiet_stderr():
        refresh()
        apis = sd.query_hostapis()
        devices = sd.query_devices()
    found = []
    for api in apis:
        found.append({
            "host_api": api["name"],
            "devices": [
                {
                    "index": i,
                    "name": devices[i]["name"],
                    "inputs": devices[i]["max_input_channels"],
                    "outputs": devices[i]["max_output_channels"],
                    "default_sample_rate": devices[i]["default_samplerate"],
                    "default": i in (api["default_input_device"], api["default_output_device"]),
                }
                for i in api["devices"]
            ],
        })  # fmt: skip
    return found


def midi_ports() -> list[dict]:
    """Every MIDI API compiled into python-rtmidi, with its ports or why it is unavailable."""
    found = []
    for api in compiled_apis():
        try:
            ins, outs = list_ports(api)
            found.append({"api": api_name(api), "inputs": ins, "outputs": outs})
        except DeviceError as exc:
            found.append({"api": api_name(api), "unavailable": str(exc)})
    return found


@dataclass(frozen=True)
class DevicesOptions:
    json: bool = False  # print the list as JSON


def list_devices(options: DevicesOptions) -> int:
    try:
        audio = audio_devices()
    except DeviceError as exc:
        audio = [{"host_api": "PortAudio", "devices": [], "unavailable": str(exc)}]
    midi = midi_ports()
    if options.json:
        print(json.dumps({"audio": audio, "midi": midi}, indent=2))
        return 0
    print("Audio (host API: devices)")
    for api in audio:
        print(f"  {api['host_api']}" + (f": {api['unavailable']}" if "unavailable" in api else ""))
        if not api["devices"] and "unavailable" not in api:
            print("    (no devices)")
        for d in api["devices"]:
            mark = "*" if d["default"] else " "
            print(f"   {mark}{d['index']:3d}  {d['name']}  ({d['inputs']} in, {d['outputs']} out, "
                  f"{d['default_sample_rate']:.0f} Hz)")  # fmt: skip
    print("MIDI (API: ports)")
    for api in midi:
        if "unavailable" in api:
            print(f"  {api['api']}: unavailable ({api['unavailable']})")
            continue
        print(f"  {api['api']}")
        for kind in ("inputs", "outputs"):
            ports = api[kind]
            print(f"    {kind}: " + (", ".join(f"[{i}] {p}" for i, p in enumerate(ports)) if ports else "none"))
    return 0
