#!/usr/bin/env python3
"""Time libzbar on raw luma frames, the way hardware/qr decodes them.

Usage: zbarscan.py FRAMES WIDTH HEIGHT PASSES

FRAMES holds the frames back to back, WIDTH*HEIGHT bytes each, 8-bit luma
(zbar's Y800 format) with no header. Each pass hands every frame to one
zbar image scanner (QR codes only, zbarimg's defaults otherwise) and times
only the zbar_scan_image calls, with time.perf_counter (wall) and
time.process_time (the process's CPU time) around each call: no process
start-up, no file reading or image decoding is counted. It prints JSON:
{"pass_seconds": [...], "pass_cpu_seconds": [...], "texts": [first code's
text per frame, "" if none]}. Used by TestSuccessRateVsZbar; needs python3 and libzbar.so.0
(Debian libzbar0, a dependency of zbar-tools); no cgo.
"""
import ctypes
import json
import sys
import time

Y800 = ord("Y") | ord("8") << 8 | ord("0") << 16 | ord("0") << 24
ZBAR_NONE, ZBAR_QRCODE, ZBAR_CFG_ENABLE = 0, 64, 0


def main():
    path, width, height, passes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    z = ctypes.CDLL("libzbar.so.0")
    vp, ui, ul = ctypes.c_void_p, ctypes.c_uint, ctypes.c_ulong
    for name, res, args in [
        ("zbar_image_scanner_create", vp, []),
        ("zbar_image_scanner_set_config", ctypes.c_int, [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
        ("zbar_image_create", vp, []),
        ("zbar_image_set_format", None, [vp, ul]),
        ("zbar_image_set_size", None, [vp, ui, ui]),
        ("zbar_image_set_data", None, [vp, vp, ul, vp]),
        ("zbar_image_destroy", None, [vp]),
        ("zbar_scan_image", ctypes.c_int, [vp, vp]),
        ("zbar_image_first_symbol", vp, [vp]),
        ("zbar_symbol_get_data", ctypes.c_char_p, [vp]),
    ]:
        f = getattr(z, name)
        f.restype, f.argtypes = res, args
    scanner = z.zbar_image_scanner_create()
    z.zbar_image_scanner_set_config(scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0)
    z.zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1)

    data = open(path, "rb").read()
    size = width * height
    frames = [ctypes.create_string_buffer(data[i:i + size], size) for i in range(0, len(data), size)]
    pass_seconds, pass_cpu_seconds, texts = [], [], []
    for p in range(passes):
        total, cpu, texts = 0.0, 0.0, []
        for buf in frames:
            img = z.zbar_image_create()
            z.zbar_image_set_format(img, Y800)
            z.zbar_image_set_size(img, width, height)
            z.zbar_image_set_data(img, buf, size, None)
            start, cpu_start = time.perf_counter(), time.process_time()
            n = z.zbar_scan_image(scanner, img)
            total += time.perf_counter() - start
            cpu += time.process_time() - cpu_start
            sym = z.zbar_image_first_symbol(img) if n > 0 else None
            texts.append(z.zbar_symbol_get_data(sym).decode("utf-8", "replace") if sym else "")
            z.zbar_image_destroy(img)
        pass_seconds.append(total)
        pass_cpu_seconds.append(cpu)
    json.dump({"pass_seconds": pass_seconds, "pass_cpu_seconds": pass_cpu_seconds, "texts": texts}, sys.stdout)


if __name__ == "__main__":
    main()
