// A binary min-heap over a vector whose contents can be saved and restored as
// they are (std::priority_queue hides its container). T needs operator>.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

namespace taosim {

template <class T>
class MinHeap {
 public:
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  const T& top() const { return items_.front(); }
  void push(const T& x) {
    items_.push_back(x);
    std::push_heap(items_.begin(), items_.end(), std::greater<>{});
  }
  void pop() {
    std::pop_heap(items_.begin(), items_.end(), std::greater<>{});
    items_.pop_back();
  }
  // The heap-ordered storage, for checkpoints.
  std::vector<T>& items() { return items_; }
  const std::vector<T>& items() const { return items_; }

 private:
  std::vector<T> items_;
};

}  // namespace taosim
