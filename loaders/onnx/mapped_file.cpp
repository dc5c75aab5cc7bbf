#include "loaders/onnx/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace quench::loaders {

MappedFile::~MappedFile() {
  if (data) munmap(const_cast<uint8_t*>(data), size);
}

Result<std::shared_ptr<const MappedFile>> map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return error(e == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError, path, ": cannot open: ",
                 std::strerror(e));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return error(StatusCode::kIoError, path, ": cannot stat: ", std::strerror(e));
  }
  // A directory or a pipe cannot be mapped, and its "size" means nothing.
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error(StatusCode::kIoError, path, ": not a regular file");
  }
  auto m = std::make_shared<MappedFile>();
  m->size = static_cast<size_t>(st.st_size);
  if (m->size > 0) {
    void* p = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      m->size = 0;
      return error(StatusCode::kIoError, path, ": cannot map ", st.st_size, " bytes: ", std::strerror(e));
    }
    m->data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return std::shared_ptr<const MappedFile>(std::move(m));
}

}  // namespace quench::loaders
