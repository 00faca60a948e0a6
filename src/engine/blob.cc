#include "engine/blob.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace sluice::engine {

Blob* Blob::Allocate(size_t size) {
  void* mem = std::malloc(sizeof(Blob) + size);
  if (mem == nullptr) throw std::bad_alloc();
  return new (mem) Blob(static_cast<uint32_t>(size));
}

void Blob::Unref() const {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    this->~Blob();
    std::free(const_cast<Blob*>(this));
  }
}

BlobPtr Blob::Make(std::string_view data) {
  Blob* b = Allocate(data.size());
  if (!data.empty()) std::memcpy(b->data_, data.data(), data.size());
  return BlobPtr(b);
}

BlobPtr Blob::Concat(std::string_view a, std::string_view b) {
  Blob* blob = Allocate(a.size() + b.size());
  if (!a.empty()) std::memcpy(blob->data_, a.data(), a.size());
  if (!b.empty()) std::memcpy(blob->data_ + a.size(), b.data(), b.size());
  return BlobPtr(blob);
}

}  // namespace sluice::engine
