// dlpack.h — the DLPack ABI (https://dmlc.github.io/dlpack/latest/), written from the spec.
//
// Only what gradcore exchanges: CPU tensors of the dtypes below, both the legacy
// DLManagedTensor (capsule "dltensor", DLPack < 1.0) and DLManagedTensorVersioned
// (capsule "dltensor_versioned", DLPack >= 1.0). These are C structs shared with other
// libraries: field order, types and enum values are the ABI and must not change.
//
// Ownership: the producer allocates the managed struct and its manager_ctx; the consumer
// that takes it calls `deleter(self)` exactly once when it no longer reads the memory
// (deleter may be null: nothing to release). Shapes and strides are in elements; strides
// may be null for a compact row-major tensor (legacy only). The first element is at
// `(char*)data + byte_offset`.
#pragma once
#include <cstdint>

namespace gradcore::dlpack {

// The version gradcore produces in versioned capsules (it uses nothing newer than 1.0).
constexpr uint32_t kMajorVersion = 1;
constexpr uint32_t kMinorVersion = 0;

struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};

// DLDeviceType (an int32 C enum in the spec). gradcore produces and accepts kDLCPU only;
// the other values are named for error messages.
enum DLDeviceType : int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
  kDLMAIA = 17,
};

struct DLDevice {
  int32_t device_type;  // a DLDeviceType
  int32_t device_id;
};

// DLDataTypeCode (the values of DLDataType::code).
enum DLDataTypeCode : uint8_t {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
};

struct DLDataType {
  uint8_t code;    // a DLDataTypeCode
  uint8_t bits;    // bits per lane (8 for bool)
  uint16_t lanes;  // 1 for every non-vector type (the only kind gradcore exchanges)
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;    // ndim entries
  int64_t* strides;  // ndim entries, in elements; null = compact row-major (legacy only)
  uint64_t byte_offset;
};

struct DLManagedTensor {  // legacy (DLPack < 1.0)
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

// Bits of DLManagedTensorVersioned::flags.
constexpr uint64_t kFlagReadOnly = 1ull << 0;  // the consumer must not write the memory
constexpr uint64_t kFlagIsCopied = 1ull << 1;  // the producer made a copy for this export
constexpr uint64_t kFlagIsSubbyteTypePadded = 1ull << 2;

struct DLManagedTensorVersioned {  // DLPack >= 1.0: note the different field order
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};

// The PyCapsule names of the Python exchange protocol (__dlpack__ / from_dlpack): a
// consumer renames the capsule to the "used_" name when it takes ownership, so that the
// capsule's destructor does not call the deleter again and a second consumer is refused.
constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";
constexpr const char* kVersionedCapsuleName = "dltensor_versioned";
constexpr const char* kUsedVersionedCapsuleName = "used_dltensor_versioned";

}  // namespace gradcore::dlpack
