"""numpy's CPU dispatch variants that the BTYD fits must agree under (NPY_DISABLE_CPU_FEATURES values).

numpy picks exp/log kernels by CPU feature at run time; the fits' verdicts must not depend on which it picks.
Disabling a feature the CPU lacks is a no-op, so every variant runs on every machine.
"""

AVX512 = "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"
VARIANTS = {
    "native": "",
    "no-avx512": AVX512,
    "no-avx2": f"{AVX512} AVX2 FMA3 F16C AVX",
}
