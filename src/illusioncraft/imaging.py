"""Pictures the toolkit writes: confusion matrices and image grids, drawn with Pillow only."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from PIL import Image, ImageDraw, ImageFont


def confusion_matrix_image(matrix: torch.Tensor, class_names: Sequence[str], cell: int = 36) -> Image.Image:
    """A confusion matrix (rows: true class, columns: predicted) as a shaded grid with counts."""
    counts = matrix.detach().cpu().long()
    k = counts.shape[0]
    font = ImageFont.load_default(size=max(10, cell // 3))
    margin = cell
    image = Image.new("RGB", (margin + k * cell + 1, margin + k * cell + 1), "white")
    draw = ImageDraw.Draw(image)
    row_totals = counts.sum(dim=1).clamp(min=1)
    for i in range(k):
        draw.text((margin + i * cell + cell // 2, margin // 2), class_names[i], fill="black", font=font, anchor="mm")
        draw.text((margin // 2, margin + i * cell + cell // 2), class_names[i], fill="black", font=font, anchor="mm")
        for j in range(k):
            share = float(counts[i, j] / row_totals[i])
            shade = int(255 * (1 - share))
            box = (margin + j * cell, margin + i * cell, margin + (j + 1) * cell, margin + (i + 1) * cell)
            draw.rectangle(box, fill=(shade, shade, 255), outline="grey")
            colour = "white" if share > 0.5 else "black"
            centre = (box[0] + cell // 2, box[1] + cell // 2)
            draw.text(centre, str(int(counts[i, j])), fill=colour, font=font, anchor="mm")
    return image


def image_grid(
    images: torch.Tensor, nrow: int | None = None, padding: int = 2, value_range: tuple[float, float] | None = None
) -> Image.Image:
    """Tile a batch (B, C, H, W) into one picture; values are scaled from ``value_range`` (default: min..max)."""
    images = images.detach().float().cpu()
    low, high = value_range if value_range is not None else (float(images.min()), float(images.max()))
    images = ((images - low) / max(high - low, 1e-12)).clamp(0, 1)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    b, _, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(b))
    rows = math.ceil(b / nrow)
    grid = torch.ones(3, rows * (h + padding) + padding, nrow * (w + padding) + padding)
    for index in range(b):
        r, c = divmod(index, nrow)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[:, top : top + h, left : left + w] = images[index]
    array = (grid.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    return Image.fromarray(array)


def captioned_rows(rows: Sequence[torch.Tensor], captions: Sequence[str], scale: int = 2, text_width: int = 300) -> Image.Image:
    """One row of images per caption, the caption written to its left: how text-to-image samples are shown.

    ``rows`` holds one (N, C, H, W) batch in [0, 1] per caption; images are enlarged ``scale`` times (nearest).
    """
    from PIL import ImageDraw, ImageFont

    strips = [image_grid(row, nrow=row.shape[0], value_range=(0.0, 1.0)) for row in rows]
    strips = [strip.resize((strip.width * scale, strip.height * scale), Image.NEAREST) for strip in strips]
    width = text_width + max(strip.width for strip in strips)
    picture = Image.new("RGB", (width, sum(strip.height for strip in strips)), "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=13)
    top = 0
    for strip, caption in zip(strips, captions, strict=True):
        picture.paste(strip, (text_width, top))
        lines, line = [], ""
        for word in caption.split():  # wrap the caption to the text column
            if line and draw.textlength(f"{line} {word}", font=font) > text_width - 10:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        text_top = top + max(0, (strip.height - 16 * len(lines)) // 2)
        for number, text in enumerate(lines):
            draw.text((5, text_top + 16 * number), text, fill="black", font=font)
        top += strip.height
    return picture
