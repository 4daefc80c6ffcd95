"""mlkit.precision: --precision names, and reading the CPU's bfloat16 flags."""

import pytest

from mlkit.errors import ConfigError
from mlkit.precision import bfloat16_is_native, cpu_flags, dtype_policy


def test_precisions_name_keras_dtype_policies():
    assert dtype_policy("float32") == "float32"
    assert dtype_policy("bfloat16") == "mixed_bfloat16"
    assert dtype_policy("auto") == ("mixed_bfloat16" if bfloat16_is_native() else "float32")
    with pytest.raises(ConfigError, match="--precision must be one of auto, float32, bfloat16"):
        dtype_policy("float16")


def test_cpu_flags_come_from_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\nbugs\t\t: spectre\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()
