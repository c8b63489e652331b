"""The SD-card image pipeline and what it installs on the Pi.

Public modules (imported one by one: `image_builder.firstboot` must load on the Pi and in
the tiny test image with the standard library alone, so this package imports nothing):

- `image_builder.build_config`: `build.toml`, `load_build_config`, `BuildConfig`
- `image_builder.firstboot`: `ardoise.toml` on the boot partition and first boot itself
- `image_builder.prereq`: host tools and disk space checked before a build
- `image_builder.partitions`: the card layout and its assembly without loop devices
- `image_builder.inspect`: reading files back out of an image (debugfs, mtools)
- `image_builder.outputs`: compression, SHA-256, bmap, Raspberry Pi Imager entry
- `image_builder.pipeline`: `build_image`, stage by stage, with a cache
- `image_builder.extract`: Debian packages unpacked without emulation, and the build cache
- `image_builder.initramfs`: a small initramfs made on the build machine (test images)
- `image_builder.emulator`: booting an image under `qemu-system-aarch64` (virt, raspi3b)
- `image_builder.tiny`, `image_builder.medium`: the two emulated test images
- `image_builder.tryout`: `ardoise image try`, a built image booted before flashing
- `image_builder.cli`: the `ardoise image` commands
"""

__all__: list[str] = []
