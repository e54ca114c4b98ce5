// dispatch.h — picks the kernel table once, honouring GRADCORE_ISA (kernel layer).
//
//   const KernelTable& k = kernels::active();
//   k.f32.unary[UNARY_EXP](x, y, n);
//
// GRADCORE_ISA=generic|avx2|avx512 can only lower the level the CPU supports; an unknown
// or unsupported value falls back to the best supported level at or below it, and
// backend_info() reports what was chosen. set_isa() switches at run time (tests).
#pragma once
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace gradcore::kernels {

const KernelTable& active();   // the chosen table
std::vector<std::string> supported_isas();   // best last, e.g. {"generic", "avx2", "avx512"}
std::string current_isa();
void set_isa(const std::string& isa);
const KernelTable& kernels_for(const std::string& isa);  // ValueError as set_isa

}  // namespace gradcore::kernels
