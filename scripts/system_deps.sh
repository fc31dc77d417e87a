#!/usr/bin/env bash
# Install the Debian packages the tests need: espeak-ng speaks fixtures, ffmpeg and sox convert them,
# chromium, chromedriver and a CJK font run the recorder page tests, redis-server and nginx the
# scale-out test.
# The service itself needs none of them: PyAV's wheel carries its own FFmpeg.
set -euo pipefail
missing=()
for pair in espeak-ng:espeak-ng ffmpeg:ffmpeg sox:sox chromium:chromium chromedriver:chromium-driver \
  redis-server:redis-server nginx:nginx; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# CJK glyphs, so the recorder page's screenshot (a test artifact) shows its Chinese text
dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q "ok installed" || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "system_deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
