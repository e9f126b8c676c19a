"""Binary masks between the encodings of other tools and LabelMesh's: row-major
run lengths starting with a run of zeros (geometry.proto's `Mask`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def runs_of(bits: Iterable[int]) -> list[int]:
    """Row-major 0/1 values as alternating run lengths, zeros first."""
    counts: list[int] = []
    current, length = 0, 0
    for bit in bits:
        value = 1 if bit else 0
        if value == current:
            length += 1
        else:
            counts.append(length)
            current, length = value, 1
    counts.append(length)
    return counts


def mask(label: str, width: int, height: int, counts: list[int]) -> dict[str, object]:
    return {"mask": {"label": label, "width": width, "height": height, "counts": counts}}


# Label Studio's brush RLE is thi.ng's rle-pack: a 32-bit count of values, the
# word size less one in 5 bits, four run-length field sizes less one in 4 bits
# each, then runs: a flag bit (1: one word repeated, 0: literal words), a 2-bit
# size class, the run length less one in that class's size, and the word(s).
def brush_pixels(rle: Sequence[int], width: int, height: int) -> list[int]:
    """A brush RLE as one 0/1 per pixel: inside where the pixel's alpha is set."""
    bits = "".join(f"{byte:08b}" for byte in rle)
    position = 0

    def take(count: int) -> int:
        nonlocal position
        value = int(bits[position : position + count] or "0", 2)
        position += count
        return value

    total = take(32)
    word_size = take(5) + 1
    run_sizes = [take(4) + 1 for _ in range(4)]
    values: list[int] = []
    while len(values) < total:
        repeat = take(1)
        run = take(run_sizes[take(2)]) + 1
        if repeat:
            values.extend([take(word_size)] * run)
        else:
            values.extend(take(word_size) for _ in range(run))
    if total != 4 * width * height:
        raise ValueError(f"a brush of {total} values does not fit a {width}x{height} RGBA image")
    return [1 if values[4 * pixel + 3] else 0 for pixel in range(width * height)]


def coco_counts(counts: str | Sequence[int], width: int, height: int) -> list[int]:
    """A COCO RLE (column-major; compressed string or list) as row-major runs."""
    column_runs = list(counts) if not isinstance(counts, str) else decompress(counts)
    column_major = expand(column_runs, width * height)
    return runs_of(column_major[x * height + y] for y in range(height) for x in range(width))


def decompress(text: str) -> list[int]:
    """pycocotools' compressed RLE string: 5-bit groups with a continuation bit,
    each count after the second stored as the difference from two before."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            group = ord(text[position]) - 48
            value |= (group & 0x1F) << (5 * shift)
            more = bool(group & 0x20)
            position += 1
            shift += 1
            if not more and group & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def expand(runs: Sequence[int], size: int) -> list[int]:
    values: list[int] = []
    bit = 0
    for run in runs:
        values.extend([bit] * run)
        bit ^= 1
    if len(values) != size:
        raise ValueError(f"run lengths sum to {len(values)}, not {size}")
    return values


def box_mask(
    runs: Sequence[int],
    left: int,
    top: int,
    box_width: int,
    box_height: int,
    width: int,
    height: int,
) -> list[int]:
    """CVAT's mask: row-major runs over its box, zeros first, placed in the image."""
    inside = expand(runs, box_width * box_height)
    pixels = [0] * (width * height)
    for row in range(box_height):
        start = (top + row) * width + left
        pixels[start : start + box_width] = inside[row * box_width : (row + 1) * box_width]
    return runs_of(pixels)
