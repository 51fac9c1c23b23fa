#include <gust/executor.hpp>

#include <cstdlib>

#include <gust/log.hpp>

namespace gust {

Executor::Executor(Loop& loop, uint32_t threads, uint32_t queue) : loop_(loop) {
    if (threads == 0 || queue == 0) {
        error_ = Error(Errc::invalid_argument, "executor: needs at least one thread and one queue slot");
        return;
    }
    // Start-up only: the job table, the queue and the threads are made once.
    // Raw memory: a job slot is built on first use (claim()).
    jobs_ = static_cast<Job*>(std::malloc(sizeof(Job) * queue));
    queue_ = new (std::nothrow) uint32_t[queue];
    threads_ = static_cast<std::thread*>(std::malloc(sizeof(std::thread) * threads));
    if (!jobs_ || !queue_ || !threads_) {
        error_ = Error(Errc::no_memory, "executor: cannot reserve its job table");
        return;
    }
    capacity_ = queue;
    free_ = UINT32_MAX;
    for (; thread_count_ < threads; ++thread_count_) new (&threads_[thread_count_]) std::thread([this] { worker(); });
    loop_.set_executor(this);
    epoch_ = loop_.executor_epoch();
}

Executor::~Executor() {
    // Call on the loop thread. Results still in the loop's post queue must not
    // reach a dead executor: the loop drops callbacks of a retired executor.
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    for (uint32_t i = 0; i < thread_count_; ++i) {
        threads_[i].join();
        threads_[i].~thread();
    }
    std::free(threads_);
    if (loop_.executor() == this) loop_.set_executor(nullptr);
    for (uint32_t i = 0; i < jobs_made_; ++i) jobs_[i].~Job();
    std::free(jobs_);
    delete[] queue_;
}

Executor::Job* Executor::claim() {
    if (free_ == UINT32_MAX && jobs_made_ < capacity_) {
        new (&jobs_[jobs_made_]) Job();
        jobs_[jobs_made_].next = UINT32_MAX;
        free_ = jobs_made_++;
    }
    if (free_ == UINT32_MAX) return nullptr;
    Job* job = &jobs_[free_];
    free_ = job->next;
    job->done = false;
    job->waiter = nullptr;
    return job;
}

void Executor::release(Job* job) {
    job->work.reset();
    job->destroy_result = nullptr;
    job->waiter = nullptr;
    job->next = free_;
    free_ = uint32_t(job - jobs_);
}

void Executor::submit(Job* job) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        // Never full: the queue has a place for every job slot.
        queue_[(queue_head_ + queue_count_) % capacity_] = uint32_t(job - jobs_);
        ++queue_count_;
    }
    work_ready_.notify_one();
}

void Executor::worker() {
    for (;;) {
        Job* job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            work_ready_.wait(lock, [this] { return stopping_ || queue_count_ > 0; });
            if (stopping_) return;
            job = &jobs_[queue_[queue_head_]];
            queue_head_ = (queue_head_ + 1) % capacity_;
            --queue_count_;
        }
        job->work(job->result);
        hand_back(job);
    }
}

void Executor::hand_back(Job* job) {
    // The loop owns the job again once the callback runs. A full post queue is
    // retried rather than waited on, so ~Executor (on the loop thread) can never
    // deadlock with a worker; a result that cannot be handed back before the
    // executor stops is dropped.
    for (;;) {
        auto posted = loop_.try_post([this, job, loop = &loop_, epoch = epoch_] {
            if (loop->executor_epoch() == epoch) finish(job);
        });
        if (posted) return;
        if (posted.error().code != Errc::no_memory) {
            log_error("executor: cannot hand a finished job back: %s", posted.error().message);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void Executor::finish(Job* job) {
    Waiter* w = job->waiter;
    if (w) w->take(w->owner, *job);
    if (job->destroy_result) job->destroy_result(job->result);
    release(job);
    if (w) w->handle.resume();
}

}  // namespace gust
